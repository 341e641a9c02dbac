"""The road at any history and input: carried state, one definition of a verdict, asymmetric
limits, idempotency keys, re-judging in bulk, and events after commit."""

import math
from datetime import timedelta

import numpy as np
import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest import approx

from spc import engine, events, limit_versions
from spc.chart_data import chart_data
from spc.models import ChartType, Sample, Violation
from spc.pipeline import record_sample, record_samples
from spc.sample_edits import set_excluded
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now() - timedelta(days=30)
SECOND = timedelta(seconds=1)


def _values(ch, values, start=T0, one_by_one=False):
    requests = [SampleRequest(values=v if isinstance(v, list) else [v],
                              timestamp=start + i * SECOND) for i, v in enumerate(values)]
    if one_by_one:
        return [record_sample(ch, r) for r in requests]
    return record_samples(ch, requests)


def _live(ch):
    """Live violations as (position of the sample, rule, chart, positions of the pattern)."""
    order = {pk: i for i, pk in enumerate(
        Sample.objects.filter(characteristic=ch).order_by("timestamp", "id")
        .values_list("pk", flat=True))}
    return sorted((order[v.sample_id], v.rule, v.chart, tuple(order[p] for p in v.points))
                  for v in Violation.objects.filter(characteristic=ch, superseded_at=None))


# --- asymmetric limits entered by hand ------------------------------------------------------


def test_hand_entered_asymmetric_limits_alarm_where_the_chart_draws_them():
    ch = CharacteristicFactory(chart_type=ChartType.IMR)
    limit_versions.manual(ch, None, "drawing", center=10.0, ucl=13.0, lcl=5.0,
                          effective_from=T0 - SECOND)
    rules = {str(r): {"enabled": False} for r in range(2, 9)}
    ch.rule_settings = rules
    ch.save()
    recorded = _values(ch, [13.5, 10.0, 5.5, 12.9, 4.9])
    fired = [[v.rule for v in r.violations if v.chart == "primary"] for r in recorded]
    assert fired == [[1], [], [], [], [1]]  # 13.5 above UCL 13, 5.5 inside LCL 5
    data = chart_data(ch)
    assert data["primary"]["ucl"] == approx([13.0] * 5)
    assert data["primary"]["lcl"] == approx([5.0] * 5)
    # zones above the center are 1 wide, below 5/3: z = 3 exactly at each limit
    assert data["primary"]["z"][3] == approx(2.9)
    assert data["primary"]["z"][4] == approx(-3 * 5.1 / 5)


# --- one definition of the trial verdict ------------------------------------------------------


@pytest.mark.parametrize("chart_type", [ChartType.IMR, ChartType.XBAR_R, ChartType.XBAR_S,
                                        ChartType.EWMA, ChartType.CUSUM])
def test_a_trial_batch_and_the_same_samples_one_by_one_get_the_same_verdicts(chart_type):
    rng = np.random.default_rng(7)
    n = 3 if chart_type in (ChartType.XBAR_R, ChartType.XBAR_S) else 1
    values = [list(v) if n > 1 else float(v[0])
              for v in np.round(10 + rng.normal(0, 1, (60, n)) + np.r_[[0] * 40, [2.5] * 20][:, None], 3)]
    batch = CharacteristicFactory(chart_type=chart_type, subgroup_size=n, trial_min_subgroups=10)
    single = CharacteristicFactory(chart_type=chart_type, subgroup_size=n, trial_min_subgroups=10)
    _values(batch, values)
    _values(single, values, one_by_one=True)
    assert _live(batch) == _live(single)
    assert _live(batch)  # the shift is caught
    a, b = chart_data(batch), chart_data(single)
    for key in ("center", "ucl", "lcl", "z"):
        assert np.allclose(a["primary"][key], b["primary"][key], equal_nan=True, rtol=0, atol=0)


def test_each_trial_point_is_judged_against_the_fit_up_to_it_and_the_chart_draws_it():
    ch = CharacteristicFactory(chart_type=ChartType.IMR, trial_min_subgroups=5)
    values = [10.0, 10.4, 9.8, 10.1, 9.9, 10.2, 14.0]
    recorded = _values(ch, values)
    data = chart_data(ch)
    for i in range(1, len(values)):
        fit = engine.imr_limits(values[:i + 1])
        assert data["primary"]["center"][i] == approx(fit.primary.center)
        assert data["primary"]["ucl"][i] == approx(fit.primary.ucl)
    # 14.0 lies beyond the trial UCL drawn at it (which includes it) and fires rule 1 there
    assert data["primary"]["ucl"][6] < 14.0
    assert [v.rule for v in recorded[6].violations if v.chart == "primary"] == [1]


# --- EWMA and CUSUM carry their statistic, as the engine computes it --------------------------


def test_ewma_and_cusum_carry_the_engines_statistic_across_separate_requests():
    values = [10.2, 9.7, 10.9, 10.4, 11.1, 10.8, 11.5, 11.2, 11.9, 11.4]
    ewma = CharacteristicFactory(chart_type=ChartType.EWMA, ewma_lambda=0.2, ewma_l=2.7)
    cusum = CharacteristicFactory(chart_type=ChartType.CUSUM, cusum_k=0.5, cusum_h=4.0)
    for ch in (ewma, cusum):
        limit_versions.manual(ch, None, "known", center=10.0, sigma=0.5,
                              effective_from=T0 - SECOND)
        _values(ch, values[:4])
        _values(ch, values[4:], start=T0 + 4 * SECOND, one_by_one=True)
    e = engine.ewma_limits(values, lam=0.2, L=2.7, center=10.0, sigma=0.5)
    data = chart_data(ewma)
    assert data["primary"]["value"] == approx(list(e.primary_values))
    assert data["primary"]["ucl"] == approx(list(e.primary.ucl))
    fired = [i for i, r in enumerate(data["primary"]["rules"]) if 1 in r]
    assert fired == [f.index for f in engine.ewma_signals(e)]
    c = engine.cusum(values, k=0.5, h=4.0, target=10.0, sigma=0.5)
    data = chart_data(cusum)
    assert data["primary"]["upper"] == approx(list(c.upper))
    assert data["primary"]["lower"] == approx(list(c.lower))
    fired = [i for i, r in enumerate(data["primary"]["rules"]) if 1 in r]
    assert fired == c.signals.tolist() and fired


def test_excluding_a_point_recomputes_the_carried_ewma_from_there_on():
    ch = CharacteristicFactory(chart_type=ChartType.EWMA, ewma_lambda=0.3, ewma_l=3.0)
    limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0, effective_from=T0 - SECOND)
    values = [10.0, 14.0, 10.5, 10.2, 9.9]
    _values(ch, values)
    set_excluded(Sample.objects.filter(characteristic=ch).order_by("timestamp")[1], True,
                 "gauge dropped", None)
    kept = [10.0, 10.5, 10.2, 9.9]
    e = engine.ewma_limits(kept, lam=0.3, L=3.0, center=10.0, sigma=1.0)
    value = chart_data(ch)["primary"]["value"]
    assert math.isnan(value[1])
    assert [value[i] for i in (0, 2, 3, 4)] == approx(list(e.primary_values))


# --- the invariant: beyond the drawn limit ⇔ rule 1 -------------------------------------------


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.floats(5, 15, allow_nan=False), min_size=3, max_size=40),
       st.sampled_from(["trial", "symmetric", "asymmetric"]))
def test_a_point_beyond_its_drawn_limits_is_exactly_a_rule_1_violation(values, limits):
    with transaction.atomic():
        ch = CharacteristicFactory(chart_type=ChartType.IMR, trial_min_subgroups=2,
                                   rule_settings={str(r): {"enabled": False} for r in range(2, 9)})
        if limits == "symmetric":
            limit_versions.manual(ch, None, "x", center=10.0, sigma=1.2, effective_from=T0)
        elif limits == "asymmetric":
            limit_versions.manual(ch, None, "x", center=10.0, ucl=12.0, lcl=6.5, effective_from=T0)
        _values(ch, values, start=T0 + SECOND)
        data = chart_data(ch)
        p = data["primary"]
        for i, value in enumerate(p["value"]):
            if math.isnan(p["ucl"][i]) or (limits == "trial" and i < 1):
                assert 1 not in p["rules"][i]
                continue
            tol = 1e-9 * max(1.0, abs(value))
            beyond = value > p["ucl"][i] + tol or value < p["lcl"][i] - tol
            inside = p["lcl"][i] + tol < value < p["ucl"][i] - tol
            if beyond:
                assert 1 in p["rules"][i], (i, value, p["ucl"][i], p["lcl"][i])
            elif inside:
                assert 1 not in p["rules"][i], (i, value, p["ucl"][i], p["lcl"][i])
        transaction.set_rollback(True)


# --- idempotency ---------------------------------------------------------------------------


def test_a_key_sent_again_records_nothing_and_answers_the_stored_sample():
    ch = CharacteristicFactory(chart_type=ChartType.IMR)
    first = record_sample(ch, SampleRequest(values=[10.0], key="m-1"))
    again = record_sample(ch, SampleRequest(values=[10.0], key="m-1"))
    assert first.created and not again.created
    assert again.sample.pk == first.sample.pk
    batch = record_samples(ch, [SampleRequest(values=[11.0], key="m-2"),
                                SampleRequest(values=[11.0], key="m-1"),
                                SampleRequest(values=[11.0], key="m-2")])
    assert [r.created for r in batch] == [True, False, False]
    assert batch[2].sample.pk == batch[0].sample.pk
    assert Sample.objects.filter(characteristic=ch).count() == 2
    other = CharacteristicFactory(chart_type=ChartType.IMR)
    assert record_sample(other, SampleRequest(values=[10.0], key="m-1")).created  # per characteristic


def test_a_file_sent_again_records_nothing_in_a_few_queries_however_long(
        django_assert_max_num_queries):
    ch = CharacteristicFactory(chart_type=ChartType.IMR)
    requests = [SampleRequest(values=[10 + i % 7 / 10], key=f"row-{i}",
                              timestamp=T0 + i * SECOND) for i in range(200)]
    record_samples(ch, requests)
    with django_assert_max_num_queries(8):  # lock, the stored keys with values and violations
        again = record_samples(ch, requests)
    assert not any(r.created for r in again)
    assert [r.sample._values for r in again] == [r.values for r in requests]
    assert Sample.objects.filter(characteristic=ch).count() == 200


def test_a_sample_without_a_time_is_stamped_when_it_is_stored():
    ch = CharacteristicFactory(chart_type=ChartType.IMR)
    before = timezone.now()
    recorded = record_samples(ch, [SampleRequest(values=[10.0]), SampleRequest(values=[10.1])])
    stamps = [r.sample.timestamp for r in recorded]
    assert stamps[0] == stamps[1] and stamps[0] >= before - timedelta(seconds=1)


def test_a_sample_older_than_the_whole_rule_window_is_recorded_and_judges_what_follows():
    ch = CharacteristicFactory(chart_type=ChartType.IMR, rule_settings={
        str(r): {"enabled": r == 2} for r in range(1, 9)})
    limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0, effective_from=T0 - SECOND)
    _values(ch, [10.5] * 8 + [9.5, 10.5] * 15, start=T0 + 10 * SECOND)
    assert _live(ch) == []
    # one more point above the center before the eight: nine in a row on one side
    recorded = record_sample(ch, SampleRequest(values=[10.4], timestamp=T0 + 5 * SECOND))
    assert recorded.created
    assert [(i, r) for i, r, _, _ in _live(ch)] == [(8, 2)]


# --- re-judging in bulk ----------------------------------------------------------------------


def test_excluding_the_first_of_a_history_longer_than_any_parameter_limit_succeeds():
    ch = CharacteristicFactory(chart_type=ChartType.IMR)
    limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0, effective_from=T0 - SECOND)
    values = (10 + np.sin(np.arange(35_000)) * 0.8).round(3)
    values[500::1000] = 14.0  # a rule-1 violation every 1,000 samples
    values = values.tolist()
    for a in range(0, len(values), 10_000):
        _values(ch, values[a:a + 10_000], start=T0 + a * SECOND)
    live_before = Violation.objects.filter(characteristic=ch, superseded_at=None).count()
    first = Sample.objects.filter(characteristic=ch).order_by("timestamp").first()
    set_excluded(first, True, "warm-up", None)  # re-judges 34,999 samples: no parameter per sample
    assert live_before >= 35
    assert Violation.objects.filter(characteristic=ch, superseded_at=None).count() >= 35


def test_changing_the_rules_rejudges_the_current_stage_and_supersedes_not_deletes(client):
    ch = CharacteristicFactory(chart_type=ChartType.IMR)
    limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0, effective_from=T0 - SECOND)
    _values(ch, [10.5] * 9)  # rule 2 at the ninth
    assert [r for _, r, _, _ in _live(ch)] == [2]
    from spc.rejudge import configuration_changed, writer_lock

    with writer_lock(ch) as (_, newest):
        before = {"rule_settings": ch.rule_settings}
        ch.rule_settings = {"2": {"enabled": False}}
        ch.save()
        configuration_changed(ch, before, newest)
    assert _live(ch) == []
    assert Violation.objects.filter(characteristic=ch, superseded_at__isnull=False).count() == 1


# --- events after commit ---------------------------------------------------------------------


def test_events_are_sent_once_after_commit_and_never_for_a_rollback(django_capture_on_commit_callbacks):
    heard = []

    def listen(sender, event, **kwargs):
        heard.append(event)

    def broken(sender, event, **kwargs):
        raise RuntimeError("a listener that fails")

    events.samples_recorded.connect(listen)
    events.samples_recorded.connect(broken)
    try:
        ch = CharacteristicFactory(chart_type=ChartType.IMR)
        limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0,
                              effective_from=T0 - SECOND)
        with django_capture_on_commit_callbacks(execute=True):
            recorded = record_sample(ch, SampleRequest(values=[14.0], timestamp=T0))
        assert len(heard) == 1  # the broken listener did not fail the request
        point = heard[0].points[0]
        assert point.sample_id == recorded.sample.pk and point.rules == (1,)
        assert (point.value, point.center, point.ucl, point.z) == approx((14.0, 10.0, 13.0, 4.0))
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            record_sample(ch, SampleRequest(values=[10.0], timestamp=T0 + SECOND))
            transaction.set_rollback(True)
        assert len(heard) == 1
    finally:
        events.samples_recorded.disconnect(listen)
        events.samples_recorded.disconnect(broken)


def test_exclusion_and_new_limits_each_emit_their_event(django_capture_on_commit_callbacks):
    heard = []

    def listen(sender, event, **kwargs):
        heard.append(type(event).__name__)

    signals = (events.sample_edited, events.samples_rejudged, events.limits_changed)
    for s in signals:
        s.connect(listen)
    try:
        ch = CharacteristicFactory(chart_type=ChartType.IMR)
        _values(ch, [10.0, 10.2, 9.9])
        with django_capture_on_commit_callbacks(execute=True):
            limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0, effective_from=T0)
        assert heard == ["SamplesRejudged", "LimitsChanged"]
        heard.clear()
        with django_capture_on_commit_callbacks(execute=True):
            set_excluded(Sample.objects.filter(characteristic=ch).first(), True, "x", None)
        assert heard == ["SamplesRejudged", "SampleEdited"]
    finally:
        for s in signals:
            s.disconnect(listen)
