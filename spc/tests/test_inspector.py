"""The sample inspector: what it shows for every chart type, who may act, and how it refuses
bad input."""

import html
import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from plants.models import Level
from plants.tests.factories import NodeFactory
from spc import annotations, limit_versions
from spc.models import Annotation, ChartType, ReasonCode, Sample, SampleEdit, Violation
from spc.pipeline import record_samples
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now() - timedelta(days=3)
MINUTE = timedelta(minutes=1)
HTMX = {"HTTP_HX_REQUEST": "true"}
# the last point ends a six-point rise (rule 3: samples 4–9), beyond the UCL (rule 1) and with a
# moving range beyond its UCL (rule 1 on the MR chart)
TREND = [10.0, 10.5, 9.5, 9.0, 9.2, 9.4, 9.6, 9.8, 13.5]


def _characteristic(plant, chart_type=ChartType.IMR, center=10.0, sigma=1.0, **kw):
    ch = CharacteristicFactory(node=NodeFactory(plant=plant, level=Level.LINE),
                               chart_type=chart_type, **kw)
    limit_versions.manual(ch, None, "known process", center=center, sigma=sigma,
                          effective_from=T0 - timedelta(days=1))
    return ch


def _record(ch, values) -> list[Sample]:
    requests = [SampleRequest(values=v if isinstance(v, list) else [v], timestamp=T0 + i * MINUTE,
                              batch="B-7", operator="Ana", comment="first shift")
                for i, v in enumerate(values)]
    return [r.sample for r in record_samples(ch, requests)]


def _counts(ch, pairs) -> list[Sample]:
    requests = [SampleRequest(count=c, sample_size=n, timestamp=T0 + i * MINUTE)
                for i, (c, n) in enumerate(pairs)]
    return [r.sample for r in record_samples(ch, requests)]


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _url(ch, sample, action=""):
    return f"/p/{ch.plant.code}/c/{ch.pk}/samples/{sample.pk}/{action + '/' if action else ''}"


def _text(response) -> str:
    """The visible text of a response, tags dropped and spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


@pytest.fixture
def trend(cast):
    """An I-MR characteristic whose last sample ends a six-point rise (rule 3)."""
    ch = _characteristic(cast.plant, decimal_places=3)
    return ch, _record(ch, TREND)


def _open(sample) -> list[int]:
    return list(Violation.objects.filter(sample=sample, superseded_at__isnull=True,
                                         acknowledged_at__isnull=True).values_list("pk", flat=True))


# --- what it shows ------------------------------------------------------------------------

SERIES = {
    ChartType.IMR: ({}, [10.0, 10.2, 14.0]),
    ChartType.XBAR_R: ({"subgroup_size": 5}, [[10, 10.2, 9.8, 10, 10.1], [12, 13, 12.5, 12, 12.2]]),
    ChartType.XBAR_S: ({"subgroup_size": 4}, [[10, 10.2, 9.8, 10], [12, 13, 12.5, 12]]),
    ChartType.EWMA: ({}, [10.0, 10.0, 13.0, 13.0]),
    ChartType.CUSUM: ({}, [10.0, 12.0, 12.0, 12.0, 12.0]),
}
COUNTS = {  # chart type: (characteristic, limits, counts)
    ChartType.P: ({"subgroup_size": 100}, {"center": 0.1}, [(10, 100), (25, 100)]),
    ChartType.NP: ({"subgroup_size": 100}, {"center": 10.0, "sigma": 3.0}, [(10, 100), (25, 100)]),
    ChartType.C: ({}, {"center": 4.0}, [(4, 1), (15, 1)]),
    ChartType.U: ({"subgroup_size": 5}, {"center": 1.0}, [(5, 5), (18, 5)]),
}
SHOWN = {ChartType.IMR: ["X 14.000", "MR 3.800", "beyond 3σ, above"],
         ChartType.XBAR_R: ["X̄ 12.340", "R 1.000", "Values 12.000 13.000 12.500 12.000 12.200"],
         ChartType.XBAR_S: ["X̄ 12.375", "S 0.479"],
         ChartType.EWMA: ["EWMA 11.080", "x 13.000", "the EWMA crossed its upper limit"],
         ChartType.CUSUM: ["C⁺ 6.000", "H 5.000", "the upper CUSUM C⁺ = 6.000 exceeded H = 5.000"],
         ChartType.P: ["Count 25 of 100", "p 0.25", "UCL 0.19"],
         ChartType.NP: ["np 25", "UCL 19"],
         ChartType.C: ["c 15", "UCL 10"],
         ChartType.U: ["u 3.6", "UCL 2.342"]}


def _flagged_sample(plant, chart_type):
    if chart_type in COUNTS:
        kw, limits, pairs = COUNTS[chart_type]
        ch = CharacteristicFactory(node=NodeFactory(plant=plant, level=Level.LINE),
                                   chart_type=chart_type, **kw)
        limit_versions.manual(ch, None, "known", **limits, effective_from=T0 - timedelta(1))
        return ch, _counts(ch, pairs)[-1]
    kw, values = SERIES[chart_type]
    return (ch := _characteristic(plant, chart_type, decimal_places=3, **kw)), _record(ch, values)[-1]


@pytest.mark.parametrize("chart_type", list(ChartType))
def test_every_chart_type_shows_the_point_and_why_it_was_flagged(cast, chart_type):
    ch, sample = _flagged_sample(cast.plant, chart_type)
    page = _client(cast.operator).get(_url(ch, sample))
    assert page.status_code == 200
    text = _text(page)
    assert "Why it was flagged Rule 1 — " in text
    for expected in SHOWN[chart_type]:
        assert expected in text
    assert f'data-sample="{sample.pk}"' in page.content.decode()
    assert "Limits in force v1 · Entered by hand" in text


def test_opened_by_htmx_it_answers_the_partial_alone(cast, trend):
    ch, samples = trend
    page = _client(cast.operator).get(_url(ch, samples[-1]), **HTMX)
    body = page.content.decode()
    assert page.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<section class="inspector"')


def test_a_rule_3_violation_is_explained_and_its_six_points_highlighted(cast, trend):
    ch, samples = trend
    page = _client(cast.operator).get(_url(ch, samples[-1]), **HTMX)
    assert "Rule 3 — six points in a row increasing: samples 4–9" in _text(page)
    highlight = re.search(r'data-highlight="([^"]*)"', page.content.decode()).group(1)
    assert json.loads(highlight) == [s.pk for s in samples[3:]]


def test_the_context_status_and_statistics_are_shown(cast):
    ch = _characteristic(cast.plant, ChartType.XBAR_R, subgroup_size=3, decimal_places=2)
    sample = _record(ch, [[10.0, 10.5, 9.5]])[0]
    text = _text(_client(cast.operator).get(_url(ch, sample)))
    for expected in ("In control", "Values 10.00 10.50 9.50", "Mean 10.00", "Range 1.00",
                     "s 0.50", "n 3", "Batch B-7", "Operator Ana", "Source Manual entry",
                     "Comment first shift", "Zone C (within 1σ)", "z = +0.00"):
        assert expected in text
    assert "Why it was flagged No rule fired at this sample." in text


def test_the_time_is_shown_in_the_plants_time_zone(cast, trend, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    ch, samples = trend
    text = _text(_client(cast.operator).get(_url(ch, samples[0])))
    local = timezone.localtime(samples[0].timestamp, ZoneInfo("Europe/Berlin"))
    assert f"Time {local:%Y-%m-%d %H:%M:%S} {local.tzname()}" in text


def test_trial_limits_are_named(cast):
    ch = CharacteristicFactory(node=NodeFactory(plant=cast.plant, level=Level.LINE))
    sample = _record(ch, [10.0, 10.4, 9.7])[-1]
    text = _text(_client(cast.operator).get(_url(ch, sample)))
    assert "Trial limits" in text and "no limits established yet" in text


def test_an_operator_sees_no_supervisor_forms(cast, trend):
    ch, samples = trend
    body = _client(cast.operator).get(_url(ch, samples[-1])).content.decode()
    assert "sample-acknowledge" not in body and "/acknowledge/" not in body
    assert "/exclude/" not in body and "/correct/" not in body
    assert "Add note" in body  # operators annotate


# --- acknowledging ------------------------------------------------------------------------


def _ack(client, ch, sample, **data):
    data.setdefault("violations", _open(sample))
    return client.post(_url(ch, sample, "acknowledge"), data, **HTMX)


def test_a_supervisor_acknowledges_the_samples_violations(cast, trend):
    ch, samples = trend
    code = ReasonCode.objects.get(plant=cast.plant, name="Tool wear")
    response = _ack(_client(cast.supervisor), ch, samples[-1], reason_code=code.pk,
                    comment="insert changed")
    assert response.status_code == 200
    assert not _open(samples[-1])
    done = Violation.objects.filter(sample=samples[-1])
    assert {(v.acknowledged_by, v.reason_code, v.comment) for v in done} == {
        (cast.supervisor, code, "insert changed")}
    text = _text(response)
    assert "Acknowledged by supervisor" in text and "Tool wear: “insert changed”" in text
    trigger = json.loads(response["HX-Trigger"])
    assert trigger["chartChanged"]["sample"] == samples[-1].pk


def test_an_operator_may_not_acknowledge(cast, trend):
    ch, samples = trend
    code = ReasonCode.objects.get(plant=cast.plant, name="Tool wear")
    response = _ack(_client(cast.operator), ch, samples[-1], reason_code=code.pk)
    assert response.status_code == 403
    assert _open(samples[-1])


def test_acknowledging_without_a_reason_code_says_so_and_changes_nothing(cast, trend):
    ch, samples = trend
    response = _ack(_client(cast.supervisor), ch, samples[-1], comment="?")
    assert response.status_code == 200
    assert "Choose the reason for the out-of-control event." in _text(response)
    assert len(_open(samples[-1])) == 3
    assert "HX-Trigger" not in response


def test_another_plants_reason_code_is_refused(cast, trend):
    ch, samples = trend
    theirs = ReasonCode.objects.get(plant=cast.other_plant, name="Tool wear")
    response = _ack(_client(cast.supervisor), ch, samples[-1], reason_code=theirs.pk)
    assert "Choose one of the plant's active reason codes." in _text(response)
    assert len(_open(samples[-1])) == 3


def test_a_violation_acknowledged_meanwhile_is_named(cast, trend):
    ch, samples = trend
    code = ReasonCode.objects.get(plant=cast.plant, name="Tool wear")
    ids = _open(samples[-1])
    _ack(_client(cast.supervisor), ch, samples[-1], reason_code=code.pk, violations=ids[:1])
    response = _ack(_client(cast.engineer), ch, samples[-1], reason_code=code.pk, violations=ids)
    assert f"Violation {ids[0]} is already acknowledged" in _text(response)
    assert _open(samples[-1]) == ids[1:]


def test_a_violation_of_another_sample_cannot_be_slipped_in(cast, trend):
    ch, samples = trend
    other = _record(_characteristic(cast.plant), [10.0, 30.0])[-1]
    code = ReasonCode.objects.get(plant=cast.plant, name="Tool wear")
    response = _ack(_client(cast.supervisor), ch, samples[-1], reason_code=code.pk,
                    violations=_open(other))
    assert "is not a violation of this sample" in _text(response)
    assert _open(other)


# --- excluding, restoring, correcting -------------------------------------------------------


def test_excluding_needs_a_reason_then_shows_it_in_the_history(cast, trend):
    ch, samples = trend
    client = _client(cast.supervisor)
    refused = client.post(_url(ch, samples[-1], "exclude"), {"reason": "  "}, **HTMX)
    assert refused.status_code == 200
    assert "Say why (the reason is kept with the sample's history)." in _text(refused)
    assert not Sample.objects.get(pk=samples[-1].pk).excluded

    done = client.post(_url(ch, samples[-1], "exclude"), {"reason": "gauge dropped"}, **HTMX)
    text = _text(done)
    assert done.status_code == 200 and Sample.objects.get(pk=samples[-1].pk).excluded
    assert "Excluded" in text and "Excluded because gauge dropped" in text
    assert "supervisor Excluded gauge dropped" in text  # the history row: who, what, why
    assert "Restore this sample" in text
    assert not _open(samples[-1])  # its violations were superseded by the re-judging

    restored = client.post(_url(ch, samples[-1], "restore"), {"reason": "gauge was fine"}, **HTMX)
    assert not Sample.objects.get(pk=samples[-1].pk).excluded
    assert "Restored gauge was fine" in _text(restored)


def test_excluding_twice_says_it_is_already_excluded(cast, trend):
    ch, samples = trend
    client = _client(cast.supervisor)
    client.post(_url(ch, samples[0], "exclude"), {"reason": "a"}, **HTMX)
    again = client.post(_url(ch, samples[0], "exclude"), {"reason": "b"}, **HTMX)
    assert again.status_code == 200 and "The sample is already excluded." in _text(again)
    assert SampleEdit.objects.filter(sample=samples[0]).count() == 1


def test_correcting_values_keeps_before_and_after(cast, trend):
    ch, samples = trend
    response = _client(cast.supervisor).post(
        _url(ch, samples[-1], "correct"), {"values": ["9.95"], "reason": "typo"}, **HTMX)
    assert response.status_code == 200
    assert list(samples[-1].measurements.values_list("value", flat=True)) == [9.95]
    assert "Values corrected: 13.500 → 9.950 typo" in _text(response)
    assert "Edited" in _text(response)


@pytest.mark.parametrize(("values", "message"), [
    (["abc"], "Value 1 is 'abc', which is not a number."),
    (["nan"], "Value 1 is nan; only finite numbers are accepted."),
    (["1e999"], "Value 1 is too large: values up to ±1e+100 are accepted."),
    (["10", "11"], "needs exactly 1 value per sample; got 2."),
    ([""], "Enter the measured values."),
])
def test_bad_values_are_refused_with_the_pipelines_words(cast, trend, values, message):
    ch, samples = trend
    response = _client(cast.supervisor).post(
        _url(ch, samples[-1], "correct"), {"values": values, "reason": "typo"}, **HTMX)
    assert response.status_code == 200 and message in _text(response)
    assert list(samples[-1].measurements.values_list("value", flat=True)) == [13.5]
    assert not SampleEdit.objects.exists()


def test_a_subgroup_needs_its_number_of_values_and_a_reason(cast):
    ch = _characteristic(cast.plant, ChartType.XBAR_R, subgroup_size=5)
    sample = _record(ch, [[10, 10.2, 9.8, 10, 10.1]])[0]
    response = _client(cast.supervisor).post(
        _url(ch, sample, "correct"), {"values": ["10", "10.1", "", "9.9", "10"]}, **HTMX)
    text = _text(response)
    assert f"{ch.name} needs exactly 5 values per sample; got 4." in text
    assert "Say why (the reason is kept with the sample's history)." in text
    assert response.content.decode().count('name="values"') == 5
    assert not SampleEdit.objects.exists()


def test_a_count_is_corrected_and_checked_like_the_pipeline(cast):
    ch, sample = _flagged_sample(cast.plant, ChartType.P)
    client = _client(cast.supervisor)
    bad = client.post(_url(ch, sample, "correct"),
                      {"count": "120", "sample_size": "100", "reason": "recount"}, **HTMX)
    assert "120 defectives cannot exceed the sample size 100." in _text(bad)
    ok = client.post(_url(ch, sample, "correct"),
                     {"count": "12", "sample_size": "100", "reason": "recount"}, **HTMX)
    assert "Values corrected: 25 of 100 → 12 of 100 recount" in _text(ok)
    assert Sample.objects.get(pk=sample.pk).count == 12


def test_an_operator_may_not_exclude_or_correct(cast, trend):
    ch, samples = trend
    client = _client(cast.operator)
    assert client.post(_url(ch, samples[0], "exclude"), {"reason": "x"}).status_code == 403
    assert client.post(_url(ch, samples[0], "correct"),
                       {"values": ["1"], "reason": "x"}).status_code == 403
    assert not SampleEdit.objects.exists()


def test_without_htmx_a_done_action_goes_back_to_the_page(cast, trend):
    ch, samples = trend
    response = _client(cast.supervisor).post(_url(ch, samples[0], "exclude"), {"reason": "x"})
    assert response.status_code == 302 and response["Location"] == _url(ch, samples[0])


# --- annotations -----------------------------------------------------------------------------


def _notes_url(ch, aid=None):
    base = f"/p/{ch.plant.code}/c/{ch.pk}/annotations/"
    return f"{base}{aid}/delete/" if aid else base


def test_an_operator_annotates_the_point_from_the_inspector(cast, trend):
    ch, samples = trend
    response = _client(cast.operator).post(
        _notes_url(ch), {"text": "Coolant topped up", "sample": samples[2].pk, "inspector": "1"},
        **HTMX)
    assert response.status_code == 200
    assert "Coolant topped up" in _text(response) and 'data-inspector' in response.content.decode()
    note = Annotation.objects.get()
    assert (note.sample, note.created_by, note.characteristic) == (samples[2], cast.operator, ch)


def test_the_chart_page_adds_a_period_and_hears_chart_changed(cast, trend):
    ch, _ = trend
    response = _client(cast.operator).post(
        _notes_url(ch), {"text": "Night shift", "start": "2026-01-05T22:00",
                         "end": "2026-01-06T06:00"}, **HTMX)
    assert response.status_code == 204
    assert "chartChanged" in json.loads(response["HX-Trigger"])
    note = Annotation.objects.get()
    assert note.is_period and note.end - note.start == timedelta(hours=8)


def test_the_period_form_is_served_and_refuses_a_backwards_period(cast, trend):
    ch, _ = trend
    client = _client(cast.operator)
    assert 'type="datetime-local"' in client.get(_notes_url(ch), **HTMX).content.decode()
    response = client.post(_notes_url(ch), {"text": "x", "start": "2026-01-06T06:00",
                                            "end": "2026-01-05T22:00"}, **HTMX)
    assert response.status_code == 200 and "The period must end after it starts." in _text(response)
    empty = client.post(_notes_url(ch), {"text": ""}, **HTMX)
    assert "Write the note." in _text(empty)
    assert not Annotation.objects.exists()


def test_notes_are_deleted_by_their_author_or_a_supervisor(cast, trend):
    ch, samples = trend
    mine = annotations.add_annotation(ch, "mine", cast.operator, sample=samples[0])
    theirs = annotations.add_annotation(ch, "theirs", cast.engineer, sample=samples[0])
    operator = _client(cast.operator)
    assert operator.post(_notes_url(ch, theirs.pk), **HTMX).status_code == 403
    body = operator.get(_url(ch, samples[0])).content.decode()
    assert body.count("/delete/") == 1  # only their own shows a delete button
    assert operator.post(_notes_url(ch, mine.pk), {"inspector": "1"}, **HTMX).status_code == 200
    response = _client(cast.supervisor).post(_notes_url(ch, theirs.pk), **HTMX)
    assert response.status_code == 204
    assert not Annotation.objects.exists()


def test_an_annotation_is_told_after_commit(cast, trend, django_capture_on_commit_callbacks):
    ch, samples = trend
    heard = []

    def listen(sender, event, **kwargs):
        heard.append(event)

    annotations.annotations_changed.connect(listen)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            note = annotations.add_annotation(ch, "tool changed", cast.operator, sample=samples[1])
        with django_capture_on_commit_callbacks(execute=True):
            annotations.delete_annotation(note)
    finally:
        annotations.annotations_changed.disconnect(listen)
    assert [(e.change, e.annotation_id, e.sample_id, e.characteristic_id, e.plant_id)
            for e in heard] == [("added", note.pk, samples[1].pk, ch.pk, cast.plant.pk),
                                ("deleted", note.pk, samples[1].pk, ch.pk, cast.plant.pk)]


# --- other plants, methods, CSRF -----------------------------------------------------------


def _posts(ch, sample, note):
    code = ReasonCode.objects.get(plant=ch.plant, name="Tool wear")
    return [
        (_url(ch, sample, "acknowledge"), {"violations": _open(sample), "reason_code": code.pk}),
        (_url(ch, sample, "exclude"), {"reason": "x"}),
        (_url(ch, sample, "restore"), {"reason": "x"}),
        (_url(ch, sample, "correct"), {"values": ["1"], "reason": "x"}),
        (_notes_url(ch), {"text": "x", "sample": sample.pk, "inspector": "1"}),
        (_notes_url(ch, note.pk), {}),
    ]


def _untouched(sample, note):
    fresh = Sample.objects.get(pk=sample.pk)
    assert not fresh.excluded and _open(sample) and not SampleEdit.objects.exists()
    assert list(Annotation.objects.values_list("pk", flat=True)) == [note.pk]


def test_another_plants_user_gets_404_for_the_page_and_every_post(cast, trend):
    ch, samples = trend
    note = annotations.add_annotation(ch, "ours", cast.operator, sample=samples[-1])
    outsider = _client(cast.outsider)
    assert outsider.get(_url(ch, samples[-1])).status_code == 404
    for url, data in _posts(ch, samples[-1], note):
        assert outsider.post(url, data, **HTMX).status_code == 404, url
    _untouched(samples[-1], note)


def test_ids_of_another_plant_forged_into_our_urls_are_404(cast, trend):
    ch, samples = trend
    theirs = _characteristic(cast.other_plant)
    their_sample = _record(theirs, [10.0, 30.0])[-1]
    their_note = annotations.add_annotation(theirs, "theirs", None, sample=their_sample)
    supervisor = _client(cast.supervisor)
    home = cast.plant.code
    for url in (f"/p/{home}/c/{theirs.pk}/samples/{their_sample.pk}/",
                f"/p/{home}/c/{ch.pk}/samples/{their_sample.pk}/"):
        assert supervisor.get(url).status_code == 404, url
    forged = [
        f"/p/{home}/c/{theirs.pk}/samples/{their_sample.pk}/exclude/",
        f"/p/{home}/c/{ch.pk}/samples/{their_sample.pk}/exclude/",
        f"/p/{home}/c/{ch.pk}/annotations/{their_note.pk}/delete/",
        f"/p/{home}/c/{theirs.pk}/annotations/",
    ]
    for url in forged:
        assert supervisor.post(url, {"reason": "x", "text": "x"}, **HTMX).status_code == 404, url
    # a sample id of theirs in our annotation form
    response = supervisor.post(_notes_url(ch), {"text": "x", "sample": their_sample.pk,
                                                "inspector": "1"}, **HTMX)
    assert response.status_code == 404
    assert not Sample.objects.get(pk=their_sample.pk).excluded
    assert list(Annotation.objects.values_list("pk", flat=True)) == [their_note.pk]


def test_actions_answer_get_with_405(cast, trend):
    ch, samples = trend
    client = _client(cast.supervisor)
    for action in ("acknowledge", "exclude", "restore", "correct"):
        assert client.get(_url(ch, samples[0], action)).status_code == 405


def test_posts_without_the_csrf_token_are_refused(cast, trend):
    ch, samples = trend
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.supervisor)
    assert client.post(_url(ch, samples[0], "exclude"), {"reason": "x"}).status_code == 403
    assert not Sample.objects.get(pk=samples[0].pk).excluded


def test_anonymous_users_are_sent_to_log_in(trend):
    ch, samples = trend
    response = Client().get(_url(ch, samples[0]))
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- queries ---------------------------------------------------------------------------------


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, **HTMX).status_code == 200
    return len(captured)


def test_the_inspector_reads_a_bounded_number_of_queries(cast, trend, django_assert_max_num_queries):
    ch, samples = trend
    client = _client(cast.supervisor)
    client.get(_url(ch, samples[0]))  # the session and the user's plants are warm either way
    # session, user, roles, plant, sample; values, violations, edits, notes; later patterns (2);
    # span (2) and its chart data (4); reason codes; the session's save (2)
    for sample in (samples[-1], samples[5]):
        with django_assert_max_num_queries(21):
            client.get(_url(ch, sample), **HTMX)


def test_notes_edits_and_history_do_not_add_queries(cast, trend):
    ch, samples = trend
    client = _client(cast.supervisor)
    before = _queries(client, _url(ch, samples[-1]))
    for i in range(5):
        annotations.add_annotation(ch, f"note {i}", cast.operator if i % 2 else cast.engineer,
                                   sample=samples[-1])
    for i in range(3):
        client.post(_url(ch, samples[-1], "exclude" if i % 2 == 0 else "restore"),
                    {"reason": f"r{i}"}, **HTMX)
    _record(ch, [10.0] * 40)  # a longer history after it
    after = _queries(client, _url(ch, samples[-1]))
    assert after <= before + 1  # (+1: the excluded sample's reason read with the chart data)


def test_a_point_inside_a_later_pattern_says_so_and_highlights_it(cast, trend):
    ch, samples = trend
    page = _client(cast.operator).get(_url(ch, samples[5]), **HTMX)
    text = _text(page)
    assert "No rule fired at this sample. Part of a pattern flagged later" in text
    assert "Rule 3 — six points in a row increasing: samples 4–9" in text
    assert "Open sample 9" in text
    highlight = re.search(r'data-highlight="([^"]*)"', page.content.decode()).group(1)
    assert json.loads(highlight) == [s.pk for s in samples[3:]]
    # the first points are in no pattern
    assert "pattern flagged later" not in _text(_client(cast.operator).get(_url(ch, samples[1])))


def test_an_empty_note_from_the_inspector_comes_back_to_the_inspector(cast, trend):
    ch, samples = trend
    response = _client(cast.operator).post(
        _notes_url(ch), {"text": " ", "sample": samples[2].pk, "inspector": "1"}, **HTMX)
    assert response.status_code == 200 and "data-inspector" in response.content.decode()
    assert "Write the note." in _text(response)
    assert not Annotation.objects.exists()
