"""Plants are isolated: every role × action × (own plant, other plant) gives the documented answer."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from plants import access
from plants.models import Level, Node
from plants.roles import Action
from plants.tests.factories import NodeFactory
from plants.tests.permission_matrix import ENDPOINTS, ROLES, Endpoint, allowed, register

# ---------------------------------------------------------------- the access layer itself


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(Action))
def test_a_role_may_take_exactly_its_actions_at_its_own_plant(cast, role, action):
    user = cast.user(role)
    assert access.may(user, cast.plant.pk, action) is allowed(role, action)
    if allowed(role, action):
        assert access.get_plant(user, cast.plant.code, action) == cast.plant
    else:
        with pytest.raises(PermissionDenied):
            access.get_plant(user, cast.plant.code, action)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(Action))
def test_a_role_gives_nothing_at_another_plant(cast, role, action):
    user = cast.user(role)
    assert access.may(user, cast.other_plant.pk, action) is False
    with pytest.raises(Http404):
        access.get_plant(user, cast.other_plant.code, action)


def test_admin_at_one_plant_is_nothing_at_another(cast):
    # The outsider is Admin at the other plant: at ours they see and do nothing.
    assert list(access.plants_for(cast.outsider)) == [cast.other_plant]
    for action in Action:
        assert not access.may(cast.outsider, cast.plant.pk, action)


def test_one_user_may_hold_different_roles_at_different_plants(cast):
    from plants.grants import grant_role
    from plants.roles import Role

    grant_role(cast.operator, cast.other_plant, Role.ENGINEER)
    assert not access.may(cast.operator, cast.plant.pk, Action.CONFIGURE)
    assert access.may(cast.operator, cast.other_plant.pk, Action.CONFIGURE)
    assert set(access.plants_for(cast.operator)) == {cast.plant, cast.other_plant}


def test_changing_and_revoking_a_role_takes_effect(cast):
    from plants.grants import grant_role, revoke_role
    from plants.roles import Role

    grant_role(cast.operator, cast.plant, Role.ENGINEER)
    assert access.may(cast.operator, cast.plant.pk, Action.CONFIGURE)
    grant_role(cast.operator, cast.plant, Role.OPERATOR)
    assert not access.may(cast.operator, cast.plant.pk, Action.EDIT)
    revoke_role(cast.operator, cast.plant)
    assert not access.may(cast.operator, cast.plant.pk, Action.VIEW)


def test_only_superusers_are_global(cast):
    for action in Action:
        assert access.may(cast.superuser, cast.other_plant.pk, action)
    assert not access.plants_for(cast.no_role).exists()


def test_scope_filters_plant_owned_rows_to_the_users_plants(cast):
    mine = NodeFactory(plant=cast.plant)
    NodeFactory(plant=cast.other_plant)
    assert list(access.scope(Node.objects.all(), cast.operator)) == [mine]
    assert list(access.scope(Node.objects.all(), cast.operator, Action.ADMINISTER)) == []


def test_an_inactive_user_loses_every_plant(cast):
    cast.admin.is_active = False
    cast.admin.save()
    assert not access.plants_for(cast.admin).exists()


# ---------------------------------------------------------------- every endpoint over HTTP


def _node(plant):
    area = NodeFactory(plant=plant, name="Area", level=Level.AREA)
    line = NodeFactory(plant=plant, parent=area, name="Line", level=Level.LINE)
    return {"area": area, "line": line}


register(
    Endpoint("plant home", "get", Action.VIEW, lambda p, o: f"/p/{p.code}/"),
    Endpoint("tree children", "get", Action.VIEW,
             lambda p, o: f"/p/{p.code}/nodes/{o['area'].pk}/children/", setup=_node),
    Endpoint("hierarchy page", "get", Action.ADMINISTER, lambda p, o: f"/p/{p.code}/hierarchy/"),
    Endpoint("create node", "post", Action.ADMINISTER, lambda p, o: f"/p/{p.code}/hierarchy/new/",
             data=lambda o: {"name": "Line 9", "level": Level.LINE}, ok_status=204),
    Endpoint("rename node", "post", Action.ADMINISTER,
             lambda p, o: f"/p/{p.code}/hierarchy/{o['line'].pk}/rename/", setup=_node,
             data=lambda o: {"name": "Renamed"}, ok_status=204),
    Endpoint("move node", "post", Action.ADMINISTER,
             lambda p, o: f"/p/{p.code}/hierarchy/{o['line'].pk}/move/", setup=_node,
             data=lambda o: {"parent": ""}, ok_status=204),
    Endpoint("delete node", "post", Action.ADMINISTER,
             lambda p, o: f"/p/{p.code}/hierarchy/{o['line'].pk}/delete/", setup=_node,
             ok_status=204),
)


def _call(client, endpoint: Endpoint, plant):
    objects = endpoint.setup(plant)
    url = endpoint.url(plant, objects)
    return getattr(client, endpoint.method)(url, endpoint.data(objects))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
@pytest.mark.parametrize("role", ROLES)
def test_endpoint_at_own_plant_is_allowed_or_403(client, cast, endpoint, role):
    client.force_login(cast.user(role))
    response = _call(client, endpoint, cast.plant)
    expected = endpoint.ok_status if allowed(role, endpoint.action) else 403
    assert response.status_code == expected


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
@pytest.mark.parametrize("role", ROLES)
def test_endpoint_at_another_plant_is_404(client, cast, endpoint, role):
    client.force_login(cast.user(role))
    assert _call(client, endpoint, cast.other_plant).status_code == 404


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_endpoint_for_an_anonymous_visitor_asks_to_log_in(client, cast, endpoint):
    response = _call(client, endpoint, cast.plant)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.method == "post"],
                         ids=lambda e: e.name)
def test_post_endpoints_refuse_get_or_render_a_form(client, cast, endpoint):
    client.force_login(cast.admin)
    objects = endpoint.setup(cast.plant)
    response = client.get(endpoint.url(cast.plant, objects))
    # A form endpoint answers GET with its form; an action-only endpoint refuses GET.
    assert response.status_code in (200, 405)
    if "delete" in endpoint.name:
        assert response.status_code == 405


def test_outsider_cannot_reach_a_node_of_our_plant_through_their_own_plant_url(client, cast):
    ours = _node(cast.plant)
    client.force_login(cast.outsider)
    url = f"/p/{cast.other_plant.code}/hierarchy/{ours['line'].pk}/rename/"
    assert client.post(url, {"name": "hijacked"}).status_code == 404
    ours["line"].refresh_from_db()
    assert ours["line"].name == "Line"


def test_a_user_read_with_roles_knows_them_without_another_query(cast, django_assert_num_queries):
    from django.contrib.auth.models import Group

    from plants.grants import grant_role
    from plants.roles import Role

    grant_role(cast.operator, cast.other_plant, Role.ENGINEER)
    cast.operator.groups.add(Group.objects.create(name="not a plant role"))
    with django_assert_num_queries(1):
        user = access.user_with_roles("WHERE u.username = %s", ["operator"])
        assert access.may(user, cast.plant.pk, Action.ENTER_DATA)
        assert not access.may(user, cast.plant.pk, Action.EDIT)
        assert access.may(user, cast.other_plant.pk, Action.CONFIGURE)
    nobody = access.user_with_roles("WHERE u.username = %s", ["nobody"])
    assert nobody.username == "nobody" and nobody.check_password is not None
    assert not any(access.may(nobody, p.pk, Action.VIEW) for p in (cast.plant, cast.other_plant))
    assert access.user_with_roles("WHERE u.username = %s", ["no such user"]) is None


def test_an_object_read_with_the_user_is_still_checked_against_their_plants(
        cast, django_assert_num_queries):
    """get_by_pk takes an object read ahead with the user (no query of its own) and still
    answers 404 outside the user's plants and 403 for a role too low."""
    ours = NodeFactory(plant=cast.plant, level=Level.LINE)
    theirs = NodeFactory(plant=cast.other_plant, level=Level.LINE)
    for node, expected in ((ours, "ok"), (theirs, Http404)):
        user = access.user_with_roles("WHERE u.username = %s", ["operator"], (Node, node.pk))
        with django_assert_num_queries(0):
            if expected == "ok":
                assert access.get_by_pk(Node, user, node.pk, Action.ENTER_DATA) == node
            else:
                with pytest.raises(Http404):
                    access.get_by_pk(Node, user, node.pk)
        user = access.user_with_roles("WHERE u.username = %s", ["operator"], (Node, node.pk))
        with django_assert_num_queries(0), pytest.raises(
                PermissionDenied if expected == "ok" else Http404):
            access.get_by_pk(Node, user, node.pk, Action.EDIT)
    user = access.user_with_roles("WHERE u.username = %s", ["operator"], (Node, 10**12))
    with django_assert_num_queries(0), pytest.raises(Http404):
        access.get_by_pk(Node, user, 10**12)  # read ahead: there is none
    user = access.user_with_roles("WHERE u.username = %s", ["operator"], (Node, "x"))
    with pytest.raises(Http404):
        access.get_by_pk(Node, user, "x")
