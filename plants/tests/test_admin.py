"""Django admin as a plant administrator uses it: pages load, the hierarchy stays sound."""

import re

import pytest

from plants.access import may
from plants.models import Level, Membership, Node
from plants.roles import Action, Role
from plants.tests.factories import NodeFactory


@pytest.fixture
def admin_client(client, cast):
    client.force_login(cast.superuser)
    return client


@pytest.mark.parametrize("url", [
    "/admin/", "/admin/plants/plant/", "/admin/plants/node/", "/admin/auth/user/",
    "/admin/spc/characteristic/", "/admin/spc/sampleedit/", "/admin/spc/reasoncode/",
])
def test_admin_pages_load(admin_client, url):
    assert admin_client.get(url).status_code == 200


def test_a_users_page_lists_their_roles_at_plants(admin_client, cast):
    page = admin_client.get(f"/admin/auth/user/{cast.engineer.pk}/change/").content.decode()
    assert "Roles at plants" in page and "Home Plant" in page


def test_the_node_form_refuses_a_cycle(admin_client, cast):
    area = NodeFactory(plant=cast.plant, name="Area", level=Level.AREA)
    line = NodeFactory(plant=cast.plant, parent=area, name="Line", level=Level.LINE)
    response = admin_client.post(f"/admin/plants/node/{area.pk}/change/", {
        "plant": cast.plant.pk, "parent": line.pk, "name": "Area", "level": Level.AREA})
    assert response.status_code == 200
    assert "cycle" in response.content.decode() or "lower level" in response.content.decode()
    area.refresh_from_db()
    assert area.parent is None


def test_the_node_form_refuses_a_move_to_another_plant(admin_client, cast):
    area = NodeFactory(plant=cast.plant, name="Area", level=Level.AREA)
    response = admin_client.post(f"/admin/plants/node/{area.pk}/change/", {
        "plant": cast.other_plant.pk, "parent": "", "name": "Area", "level": Level.AREA})
    assert "cannot move to another plant" in response.content.decode()
    area.refresh_from_db()
    assert area.plant == cast.plant


def test_deleting_a_node_with_children_in_admin_says_why_and_keeps_it(admin_client, cast):
    area = NodeFactory(plant=cast.plant, name="Area", level=Level.AREA)
    NodeFactory(plant=cast.plant, parent=area, name="Line", level=Level.LINE)
    response = admin_client.post(f"/admin/plants/node/{area.pk}/delete/", {"post": "yes"},
                                 follow=True)
    page = " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())
    # the parent link is PROTECT, so admin names what stands in the way
    assert "would require deleting the following protected related objects: Node: Line" in page
    assert Node.objects.filter(pk=area.pk).exists()


def test_bulk_deleting_nodes_in_admin_keeps_those_with_children(admin_client, cast):
    area = NodeFactory(plant=cast.plant, name="Area", level=Level.AREA)
    line = NodeFactory(plant=cast.plant, parent=area, name="Line", level=Level.LINE)
    leaf = NodeFactory(plant=cast.plant, name="Spare", level=Level.AREA)
    admin_client.post("/admin/plants/node/", {
        "action": "delete_selected", "_selected_action": [leaf.pk], "post": "yes"})
    assert not Node.objects.filter(pk=leaf.pk).exists()
    assert set(Node.objects.values_list("pk", flat=True)) == {area.pk, line.pk}


def test_a_role_given_in_admin_grants_that_plants_permissions(cast):
    membership = Membership.objects.create(user=cast.no_role, plant=cast.plant,
                                           role=Role.SUPERVISOR)
    assert may(cast.no_role, cast.plant.pk, Action.EDIT)
    assert not may(cast.no_role, cast.plant.pk, Action.CONFIGURE)
    membership.delete()
    assert not may(cast.no_role, cast.plant.pk, Action.VIEW)


def test_a_characteristic_with_samples_keeps_its_chart_type_in_admin(admin_client, cast):
    from spc.pipeline import record_sample
    from spc.sample_input import SampleRequest
    from spc.tests.factories import CharacteristicFactory

    ch = CharacteristicFactory(node=NodeFactory(plant=cast.plant, level=Level.LINE))
    page = admin_client.get(f"/admin/spc/characteristic/{ch.pk}/change/").content.decode()
    assert 'name="chart_type"' in page
    record_sample(ch, SampleRequest(values=[1.0]))
    page = admin_client.get(f"/admin/spc/characteristic/{ch.pk}/change/").content.decode()
    assert 'name="chart_type"' not in page and 'name="subgroup_size"' not in page


@pytest.mark.parametrize("settings, message", [
    ('{"2": {"enable": false}}', "unknown setting"),
    ('{"9": {"enabled": false}}', "between 1 and 8"),
    ('{"two": {}}', "by rule number"),
    ('{"3": {"severity": "LOUD"}}', "severity must be one of"),
])
def test_bad_rule_settings_are_refused_in_admin(admin_client, cast, settings, message):
    from spc.models import Characteristic
    from spc.tests.factories import CharacteristicFactory

    ch = CharacteristicFactory(node=NodeFactory(plant=cast.plant, level=Level.LINE))
    form = {f: getattr(ch, f) if getattr(ch, f) is not None else "" for f in (
        "name", "description", "unit", "decimal_places", "chart_type", "subgroup_size",
        "ewma_lambda", "ewma_l", "cusum_k", "cusum_h", "provider", "trial_min_subgroups")}
    form.update(node=ch.node_id, rule_settings=settings,
                **{"limit_versions-TOTAL_FORMS": 0, "limit_versions-INITIAL_FORMS": 0})
    response = admin_client.post(f"/admin/spc/characteristic/{ch.pk}/change/", form)
    assert response.status_code == 200 and message in response.content.decode()
    assert Characteristic.objects.get(pk=ch.pk).rule_settings == {}


def test_turning_a_rule_off_in_admin_rejudges_and_supersedes_its_violations(admin_client, cast):
    from datetime import timedelta

    from django.utils import timezone

    from spc import limit_versions
    from spc.models import Violation
    from spc.pipeline import record_samples
    from spc.sample_input import SampleRequest
    from spc.tests.factories import CharacteristicFactory

    ch = CharacteristicFactory(node=NodeFactory(plant=cast.plant, level=Level.LINE))
    t0 = timezone.now() - timedelta(hours=1)
    limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0, effective_from=t0)
    record_samples(ch, [SampleRequest(values=[10.5], timestamp=t0 + timedelta(seconds=i + 1))
                        for i in range(9)])  # nine above the center: rule 2
    assert list(Violation.objects.filter(characteristic=ch, superseded_at=None)
                .values_list("rule", flat=True)) == [2]
    form = {f: getattr(ch, f) if getattr(ch, f) is not None else "" for f in (
        "name", "description", "unit", "decimal_places", "ewma_lambda", "ewma_l", "cusum_k",
        "cusum_h", "provider", "trial_min_subgroups")}
    form.update(node=ch.node_id, rule_settings='{"2": {"enabled": false}}',
                **{"limit_versions-TOTAL_FORMS": 0, "limit_versions-INITIAL_FORMS": 0})
    response = admin_client.post(f"/admin/spc/characteristic/{ch.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not Violation.objects.filter(characteristic=ch, superseded_at=None).exists()
    assert Violation.objects.filter(characteristic=ch).count() == 1  # superseded, kept
