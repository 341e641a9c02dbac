"""The publisher: each after-commit event becomes one stored message of the documented shape,
built once; a `points` message extends the chart exactly as the whole history draws it."""

import logging
import time
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone

from alerts.acknowledgment import acknowledge
from alerts.live import char_group, delivery, last_event_id, log, messages, send_html, watching
from alerts.models import LiveEvent
from plants.models import Level
from plants.tests.factories import NodeFactory
from spc import events, limit_versions
from spc.models import ChartType, ReasonCode
from spc.pipeline import record_sample, record_samples
from spc.sample_edits import set_excluded
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now() - timedelta(days=2)
MINUTE = timedelta(minutes=1)
PER_POINT = ("sample_id", "timestamp", "n", "excluded", "exclusion_reason", "limits_version")
PER_CHART = ("value", "center", "ucl", "lcl", "z", "rules")
CHART_TYPES = {  # chart type: (subgroup size, a sample's request)
    ChartType.IMR: (1, lambda i, x: SampleRequest(values=[x])),
    ChartType.XBAR_R: (4, lambda i, x: SampleRequest(values=[x, x + 0.3, x - 0.2, x + 0.1])),
    ChartType.XBAR_S: (5, lambda i, x: SampleRequest(values=[x, x + .2, x - .4, x + .1, x])),
    ChartType.EWMA: (1, lambda i, x: SampleRequest(values=[x])),
    ChartType.CUSUM: (1, lambda i, x: SampleRequest(values=[x])),
    ChartType.P: (1, lambda i, x: SampleRequest(count=int(x) % 7, sample_size=80 + i % 5)),
    ChartType.C: (1, lambda i, x: SampleRequest(count=int(x) % 9, sample_size=1)),
}
VALUES = [10.2, 9.7, 10.9, 8.8, 10.1, 11.4, 9.9, 10.4, 9.5, 12.6, 10.0, 7.2]


@pytest.fixture(autouse=True)
def fresh_cache():
    """No bookmark remembered, no page watching (ids come back after a rollback on SQLite)."""
    log.forget()
    watching.forget()


def stored(kind=None) -> list[dict]:
    rows = LiveEvent.objects.order_by("id")
    return [log.message(r) for r in (rows.filter(kind=kind) if kind else rows)]


def characteristic(chart_type=ChartType.IMR, plant=None, watched=True, **kw):
    """A characteristic, watched by a page unless told otherwise."""
    node = NodeFactory(plant=plant, level=Level.LINE) if plant else NodeFactory(level=Level.LINE)
    ch = CharacteristicFactory(node=node, chart_type=chart_type, **kw)
    watching.forget([char_group(ch.pk)])
    if watched:
        async_to_sync(watching.watch)([char_group(ch.pk)])
    return ch


def timed(make, i, value):
    request = make(i, value)
    request.timestamp = T0 + i * MINUTE
    return request


@pytest.mark.parametrize("chart_type", list(CHART_TYPES))
@pytest.mark.parametrize("established", [True, False], ids=["limits", "trial"])
def test_a_new_sample_is_one_points_message_that_extends_the_chart_as_drawn(
        chart_type, established, django_capture_on_commit_callbacks):
    n, make = CHART_TYPES[chart_type]
    ch = characteristic(chart_type, subgroup_size=n, trial_min_subgroups=5)
    if established:
        center = {ChartType.P: 0.05, ChartType.C: 4.0}.get(chart_type, 10.0)
        limit_versions.manual(ch, None, "known", center=center,
                              **({} if chart_type in (ChartType.P, ChartType.C) else
                                 {"sigma": 0.8}),
                              effective_from=T0 - MINUTE)
    record_samples(ch, [timed(make, i, x) for i, x in enumerate(VALUES[:-1])])
    with django_capture_on_commit_callbacks(execute=True):
        sample = record_sample(ch, timed(make, len(VALUES), VALUES[-1])).sample

    [points] = stored("points")
    assert {"id", "kind", "plant", "characteristic", "data", "violations"} <= set(points)
    assert (points["kind"], points["plant"], points["characteristic"]) == (
        "points", ch.plant_id, ch.pk)
    data, whole = points["data"], messages.plain_chart_data(ch)
    assert data["sample_id"] == [sample.pk] == whole["sample_id"][-1:]
    for key in PER_POINT:
        assert data[key] == whole[key][-1:], key
    for chart in ("primary", "secondary"):
        if whole[chart] is None:
            assert data[chart] is None
            continue
        assert data[chart]["statistic"] == whole[chart]["statistic"]
        for key in PER_CHART + (("upper", "lower") if chart_type == ChartType.CUSUM else ()):
            assert data[chart][key] == whole[chart][key][-1:], (chart, key)
    assert data["characteristic"] == whole["characteristic"]
    assert data["trial"] == whole["trial"]
    assert [v["version"] for v in data["versions"]] == ([1] if established else [])
    raised = [v["id"] for v in points["violations"]]
    assert raised == sorted(sample.violations.values_list("id", flat=True))


def test_a_batch_is_one_message_and_its_violations_one_toast(django_capture_on_commit_callbacks):
    ch = characteristic(name="Bore depth")
    limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0, effective_from=T0 - MINUTE)
    with django_capture_on_commit_callbacks(execute=True):
        recorded = record_samples(ch, [SampleRequest(values=[x], timestamp=T0 + i * MINUTE)
                                       for i, x in enumerate([10.0, 14.0, 10.1, 5.0])])
    [points] = stored("points")
    assert points["data"]["sample_id"] == [r.sample.pk for r in recorded]
    assert points["data"]["primary"]["rules"] == [[], [1], [], [1]]
    [toast] = stored("violation")
    assert toast["id"] == points["id"] + 1
    assert toast == {
        "id": toast["id"], "kind": "violation", "plant": ch.plant_id, "characteristic": ch.pk,
        "characteristic_name": "Bore depth", "url": f"/p/{ch.plant.code}/c/{ch.pk}/",
        "message": "Rule 1 on Bore depth — a point beyond the control limits "
                   f"(and {len(points['violations']) - 1} more)",
        "violation_ids": [v["id"] for v in points["violations"]], "severity": "CRITICAL",
        "sample_id": recorded[1].sample.pk,
        "inspector_url": f"/p/{ch.plant.code}/c/{ch.pk}/samples/{recorded[1].sample.pk}/"}
    assert LiveEvent.objects.get(pk=points["id"]).group == f"live.char.{ch.pk}"
    assert LiveEvent.objects.get(pk=toast["id"]).group == f"live.plant.{ch.plant_id}"


def test_new_samples_nobody_watches_cost_no_message_only_a_note_of_the_moment(
        django_capture_on_commit_callbacks, django_assert_num_queries, monkeypatch):
    sent = []
    monkeypatch.setattr(delivery, "group_send", lambda group, message: sent.append(group))
    ch = characteristic(watched=False)
    limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0)
    before = time.time()
    with django_capture_on_commit_callbacks() as callbacks:
        record_sample(ch, SampleRequest(values=[10.1]))
    with django_assert_num_queries(0):  # the listeners, run after the pipeline's commit
        for callback in callbacks:
            callback()
    assert stored() == [] and sent == []
    assert watching.changed_since([char_group(ch.pk)], before) == [char_group(ch.pk)]
    assert watching.changed_since([char_group(ch.pk)], time.time() + 10) == []

    with django_capture_on_commit_callbacks(execute=True):
        record_sample(ch, SampleRequest(values=[30.0]))  # a violation: the plant's toast still
    assert [m["kind"] for m in stored()] == ["violation"]
    assert sent == [f"live.plant.{ch.plant_id}"]

    async_to_sync(watching.watch)([char_group(ch.pk)])  # a page opens the chart
    with django_capture_on_commit_callbacks(execute=True):
        record_sample(ch, SampleRequest(values=[10.0]))
    assert len(stored("points")) == 1 and f"live.char.{ch.pk}" in sent


def test_too_many_new_points_are_a_refresh_instead(django_capture_on_commit_callbacks,
                                                   monkeypatch):
    monkeypatch.setattr(messages, "MAX_POINTS", 3)
    ch = characteristic()
    with django_capture_on_commit_callbacks(execute=True):
        record_samples(ch, [SampleRequest(values=[10.0 + i / 10], timestamp=T0 + i * MINUTE)
                            for i in range(4)])
    assert stored() == [{"id": stored()[0]["id"], "kind": "refresh", "plant": ch.plant_id,
                         "characteristic": ch.pk, "reason": "samples"}]


def test_edits_limits_and_configuration_ask_the_charts_to_refresh(
        django_capture_on_commit_callbacks):
    ch = characteristic()
    record_samples(ch, [SampleRequest(values=[10.0 + i / 10], timestamp=T0 + i * MINUTE)
                        for i in range(5)])
    with django_capture_on_commit_callbacks(execute=True):
        limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0, effective_from=T0)
    with django_capture_on_commit_callbacks(execute=True):
        set_excluded(ch.samples.order_by("timestamp").first(), True, "bad gauge", None)
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(events.characteristic_changed, events.CharacteristicChanged(
            plant_id=ch.plant_id, characteristic_id=ch.pk, changed=("usl",)))
    told = stored()
    assert [m.pop("reason") for m in told] == [
        "rejudged", "limits", "rejudged", "edited", "configuration"]
    assert all(m == {"id": m["id"], "kind": "refresh", "plant": ch.plant_id,
                     "characteristic": ch.pk} for m in told)


def test_an_acknowledgment_is_told_to_the_plant(cast, django_capture_on_commit_callbacks):
    ch = characteristic(plant=cast.plant)
    limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0)
    violation = record_sample(ch, SampleRequest(values=[30.0])).violations[0]
    code = ReasonCode.objects.filter(plant=cast.plant).first()
    with django_capture_on_commit_callbacks(execute=True):
        acknowledge([violation], cast.supervisor, code.pk, "checked")
    [message] = stored()
    assert message == {"id": message["id"], "kind": "acknowledged", "plant": cast.plant.pk,
                       "characteristics": [ch.pk], "sample_ids": [violation.sample_id],
                       "violation_ids": [violation.pk]}


def test_fragments_are_sent_after_commit_and_never_for_a_rollback(
        cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            send_html(cast.plant, '<b id="a" hx-swap-oob="true">1</b>')
            transaction.set_rollback(True)
        send_html(cast.plant.pk, '<b id="a" hx-swap-oob="true">2</b>', characteristic=7)
    [message] = stored()
    assert message["html"] == '<b id="a" hx-swap-oob="true">2</b>'
    assert LiveEvent.objects.get().group == "live.char.7"


def test_a_failing_send_is_logged_and_fails_nothing(django_capture_on_commit_callbacks,
                                                    monkeypatch, caplog):
    def broken(group, message):
        raise ConnectionError("the channel layer is down")

    monkeypatch.setattr(delivery, "group_send", broken)
    ch = characteristic()
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        record_sample(ch, SampleRequest(values=[10.0]))
    [message] = stored()
    assert message["kind"] == "points"  # kept for the pages that catch up
    assert f"Live message {message['id']} (points) was stored but not sent" in caplog.text


def test_the_log_is_pruned_from_its_oldest_id_and_never_emptied(cast):
    old = timezone.now() - log.KEEP_FOR - MINUTE
    rows = [log.store(cast.plant.pk, "live.plant.1", "html", {"kind": "html"}) for _ in range(5)]
    LiveEvent.objects.filter(pk__in=[r.pk for r in rows[:2]]).update(created_at=old)
    log.prune(rows[-1].pk)
    assert list(LiveEvent.objects.values_list("id", flat=True)) == [r.pk for r in rows[2:]]
    log.prune(rows[-1].pk, keep_rows=0)
    assert list(LiveEvent.objects.values_list("id", flat=True)) == [rows[-1].pk]
    assert last_event_id() == rows[-1].pk


def test_a_plant_page_carries_its_bookmark_unless_a_bare_wsgi_server_serves_it(cast):
    log.store(cast.plant.pk, "live.plant.1", "html", {"kind": "html"})
    request = RequestFactory().get("/")
    html = render_to_string("includes/live.html", {"plant": cast.plant, "characteristics": "4,5",
                                                    "request": request})
    assert (f'data-plant="HOME" data-characteristics="4,5" data-since="{last_event_id()}"'
            in html)
    assert "openspc/live.js" in html
    given = render_to_string("includes/live.html", {"plant": cast.plant, "since": 0,
                                                     "request": request})
    assert 'data-characteristics="" data-since="0"' in given
    request.META["SERVER_SOFTWARE"] = "WSGIServer/0.2"  # runserver, the test live server
    assert "data-live" not in render_to_string("includes/live.html",
                                               {"plant": cast.plant, "request": request})


def test_every_plant_page_subscribes_to_its_plant(client, cast):
    client.force_login(cast.operator)
    page = client.get(f"/p/{cast.plant.code}/").content.decode()
    assert 'data-live data-plant="HOME"' in page and "data-live-status" in page


@pytest.mark.django_db(transaction=True)
def test_a_note_added_or_deleted_refreshes_the_characteristics_charts(cast):
    from alerts.live import last_event_id
    from alerts.models import LiveEvent
    from plants.models import Level
    from plants.tests.factories import NodeFactory
    from spc.annotations import add_annotation, delete_annotation
    from spc.tests.factories import CharacteristicFactory

    ch = CharacteristicFactory(node=NodeFactory(plant=cast.plant, level=Level.LINE))
    since = last_event_id()
    note = add_annotation(ch, "Shift change", cast.operator, start=timezone.now(),
                          end=timezone.now())
    delete_annotation(note)
    sent = [e.payload for e in LiveEvent.objects.filter(id__gt=since).order_by("id")]
    assert [(m["kind"], m["characteristic"], m["reason"]) for m in sent] == [
        ("refresh", ch.pk, "annotations"), ("refresh", ch.pk, "annotations")]
