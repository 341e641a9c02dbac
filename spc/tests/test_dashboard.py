"""The operator dashboard: what is due is computed from each characteristic's interval and
grace, red comes first, the top bar counts what is due, and the page stays bounded in queries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from plants.tests.factories import NodeFactory
from spc import due
from spc.models import Characteristic, Provider, Sample
from spc.pipeline import record_samples
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory
from spc.tests.test_chart_page import client_for

pytestmark = pytest.mark.django_db
NOW = timezone.now()


@pytest.fixture(autouse=True)
def _now():
    """Each test's "now", read when it starts (due-ness is about minutes; a long suite is not)."""
    global NOW
    NOW = timezone.now()


def manual(plant=None, every=timedelta(minutes=30), last=None, **kw):
    extra = {"node": NodeFactory(plant=plant)} if plant is not None else {}
    kw.setdefault("provider", Provider.MANUAL)
    ch = CharacteristicFactory(sampling_interval=every, **extra, **kw)
    if last is not None:
        record_samples(ch, [SampleRequest(values=[10.0], timestamp=last)])
    return ch


def test_due_after_the_interval_overdue_after_the_grace():
    ch = manual(last=NOW - timedelta(minutes=10))
    last = NOW - timedelta(minutes=10)
    assert due.state_at(ch, last, NOW)[0] == due.IDLE
    assert due.state_at(ch, last, last + timedelta(minutes=30)) == (
        due.DUE, last + timedelta(minutes=30), last + timedelta(minutes=35))
    # default grace: a tenth of the interval, at least 5 minutes
    assert due.state_at(ch, last, last + timedelta(minutes=35))[0] == due.OVERDUE
    shift = manual(every=timedelta(hours=8))
    assert due.grace(shift) == timedelta(minutes=48)
    shift.overdue_after = timedelta(minutes=15)
    assert due.grace(shift) == timedelta(minutes=15)


def test_without_a_sample_it_is_due_from_its_creation_and_tags_are_never_due():
    ch = manual()
    assert due.state_at(ch, None, ch.created_at)[0] == due.DUE
    tag = manual(provider=Provider.TAG)
    assert due.state_at(tag, None, NOW + timedelta(days=1))[0] == due.IDLE
    assert due.state_at(manual(every=None), None, NOW)[0] == due.IDLE


def test_cards_put_red_first_then_amber_then_the_rest(cast):
    manual(cast.plant, last=NOW - timedelta(minutes=1), name="Idle")
    manual(cast.plant, last=NOW - timedelta(minutes=31), name="Amber")
    manual(cast.plant, last=NOW - timedelta(minutes=50), name="Red")
    out = manual(cast.plant, last=NOW - timedelta(minutes=1), name="Out")
    out.limit_versions.create(version=1, center=10.0, ucl=13.0, lcl=7.0, sigma=1.0,
                              source="MANUAL", method="hand", reason="known",
                              effective_from=NOW - timedelta(days=1))
    record_samples(out, [SampleRequest(values=[30.0], timestamp=NOW - timedelta(seconds=30))])
    cards = due.cards(Characteristic.objects.filter(plant=cast.plant))
    assert [c.ch.name for c in cards][:2] in (["Red", "Out"], ["Out", "Red"])
    assert [c.ch.name for c in cards][2:] == ["Amber", "Idle"]
    by_name = {c.ch.name: c for c in cards}
    assert by_name["Out"].red and by_name["Out"].out_of_control and by_name["Out"].waiting == 2  # the point and its moving range
    assert by_name["Amber"].state == due.DUE and not by_name["Amber"].red
    assert by_name["Idle"].last_value == 10.0
    assert due.attention_count(cast.plant) == 2  # amber and overdue; out of control is not "due"


def test_the_dashboard_shows_the_scope_and_counts_in_the_top_bar(cast):
    line = NodeFactory(plant=cast.plant)
    manual(last=NOW - timedelta(minutes=31), name="Bore", node=line)
    manual(cast.plant, last=NOW - timedelta(minutes=1), name="Elsewhere")
    c = client_for(cast.operator)
    page = c.get(f"/p/{cast.plant.code}/").content.decode()
    assert "Bore" in page and "Elsewhere" in page and ">1 due<" in page
    scoped = c.get(f"/p/{cast.plant.code}/?node={line.pk}").content.decode()
    assert "Bore" in scoped and 'data-name="Elsewhere"' not in scoped
    assert c.get(f"/p/{cast.plant.code}/?node=x").status_code == 200  # whole plant
    other = NodeFactory(plant=cast.other_plant)
    assert c.get(f"/p/{cast.plant.code}/?node={other.pk}").status_code == 404
    assert ">1 due<" in c.get(f"/p/{cast.plant.code}/due-badge/").content.decode()


def test_a_card_is_read_again_for_its_plant_only(cast):
    mine = manual(cast.plant, last=NOW - timedelta(minutes=31), name="Bore")
    theirs = manual(cast.other_plant, name="Theirs")
    c = client_for(cast.operator)
    card = c.get(f"/p/{cast.plant.code}/cards/{mine.pk}/").content.decode()
    assert f'id="todo-{mine.pk}"' in card and 'data-state="due"' in card
    assert c.get(f"/p/{cast.plant.code}/cards/{theirs.pk}/").status_code == 404
    assert client_for(cast.outsider).get(f"/p/{cast.plant.code}/").status_code == 404


def test_two_hundred_characteristics_cost_the_queries_of_two(cast, django_assert_max_num_queries):
    node = NodeFactory(plant=cast.plant)
    for i in range(2):
        manual(last=NOW - timedelta(minutes=i), node=node, name=f"First {i}")
    c = client_for(cast.operator)
    c.get(f"/p/{cast.plant.code}/")
    with django_assert_max_num_queries(30) as few:
        c.get(f"/p/{cast.plant.code}/")
    Characteristic.objects.bulk_create(
        Characteristic(plant=cast.plant, node=node, name=f"Gauge {i}", chart_type="imr",
                       subgroup_size=1, sampling_interval=timedelta(minutes=30))
        for i in range(198))
    assert Characteristic.objects.filter(plant=cast.plant).count() == 200
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = c.get(f"/p/{cast.plant.code}/")
    assert page.content.decode().count('class="todo-card"') == 200
    assert Sample.objects.count() == 2
