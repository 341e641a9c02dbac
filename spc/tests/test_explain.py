"""The alarm explained: one sentence per violation, for series the real engine flagged."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from spc import limit_versions
from spc.chart_data import chart_data
from spc.explain import explain, later_patterns, number, read_span_of, samples_text
from spc.models import ChartType, Sample, Violation
from spc.pipeline import record_samples
from spc.sample_edits import set_excluded
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now() - timedelta(days=10)
MINUTE = timedelta(minutes=1)


def _established(chart_type=ChartType.IMR, center=10.0, sigma=1.0, **kw):
    ch = CharacteristicFactory(chart_type=chart_type, **kw)
    limit_versions.manual(ch, None, "known process", center=center, sigma=sigma,
                          effective_from=T0 - timedelta(days=1))
    return ch


def _record(ch, values, start=T0) -> list[int]:
    requests = [SampleRequest(values=v if isinstance(v, list) else [v], timestamp=start + i * MINUTE)
                for i, v in enumerate(values)]
    return [r.sample.pk for r in record_samples(ch, requests)]


def _counts(ch, pairs) -> list[int]:
    requests = [SampleRequest(count=c, sample_size=n, timestamp=T0 + i * MINUTE)
                for i, (c, n) in enumerate(pairs)]
    return [r.sample.pk for r in record_samples(ch, requests)]


def _first(ch, rule, chart="primary"):
    """The explanation of the earliest live violation of `rule`."""
    violation = (Violation.objects.filter(characteristic=ch, rule=rule, chart=chart,
                                          superseded_at__isnull=True)
                 .order_by("sample__timestamp", "sample_id").first())
    assert violation is not None, f"rule {rule} did not fire"
    [explanation] = explain(ch, [violation])
    return explanation


def _drawn(ch, sample_id, chart="primary"):
    """(value, center, ucl, lcl) of a sample as the chart draws it."""
    data = chart_data(ch)
    i = data["sample_id"].tolist().index(sample_id)
    return tuple(float(data[chart][k][i]) for k in ("value", "center", "ucl", "lcl"))


def test_rule_1_names_the_limit_crossed_with_the_value_and_the_limit():
    ch = _established(decimal_places=3)
    ids = _record(ch, [10.0, 10.2, 9.9, 10.1, 14.061])
    e = _first(ch, 1)
    assert e.sentence == ("Rule 1 — one point beyond the upper control limit (3σ): "
                          "sample 5 at 14.061 > UCL 13.000")
    assert e.sample_ids == (ids[4],) and e.ordinals == (5,)


def test_rule_1_below_the_lower_limit():
    ch = _established(decimal_places=2)
    _record(ch, [10.0, 5.5])
    assert _first(ch, 1).sentence == ("Rule 1 — one point beyond the lower control limit (3σ): "
                                      "sample 2 at 5.50 < LCL 7.00")


def test_rule_1_on_the_moving_range_chart():
    ch = _established(decimal_places=3)
    _record(ch, [10.0, 12.9, 9.0])
    e = _first(ch, 1, "secondary")
    ucl = _drawn(ch, e.violation.sample_id, "secondary")[2]
    assert e.sentence == ("Rule 1 — one point beyond the upper control limit (3σ) on the moving "
                          f"range chart: sample 3 at 3.900 > UCL {ucl:.3f}")


def test_rule_1_on_the_range_chart_of_subgroups():
    ch = _established(ChartType.XBAR_R, subgroup_size=5, decimal_places=3)
    _record(ch, [[10, 10.5, 9.5, 10, 10], [7, 13, 10, 10, 10]])
    e = _first(ch, 1, "secondary")
    ucl = _drawn(ch, e.violation.sample_id, "secondary")[2]
    assert e.sentence == ("Rule 1 — one point beyond the upper control limit (3σ) on the range "
                          f"chart: sample 2 at 6.000 > UCL {ucl:.3f}")


def test_rule_1_on_the_standard_deviation_chart():
    ch = _established(ChartType.XBAR_S, subgroup_size=4, decimal_places=2)
    _record(ch, [[10, 10.5, 9.5, 10], [6, 14, 6, 14]])
    assert _first(ch, 1, "secondary").sentence.startswith(
        "Rule 1 — one point beyond the upper control limit (3σ) on the standard deviation "
        "chart: sample 2 at 4.62 > UCL ")


def test_rule_2_says_on_which_side_of_the_center_line():
    ch = _established()
    ids = _record(ch, [10.5, 10.4, *[9.5, 9.6] * 4, 9.5])
    e = _first(ch, 2)
    assert e.sentence == ("Rule 2 — nine points in a row on the same side of the center line "
                          "(below): samples 3–11")
    assert e.sample_ids == tuple(ids[2:11])


def test_rule_2_above():
    ch = _established()
    _record(ch, [*[10.5, 10.6] * 4, 10.5])
    assert _first(ch, 2).sentence.endswith("center line (above): samples 1–9")


def test_rule_3_says_increasing_and_names_its_six_samples():
    ch = _established()
    ids = _record(ch, [10.0, 10.5, 9.5, 9.0, 9.2, 9.4, 9.6, 9.8, 10.0])
    e = _first(ch, 3)
    assert e.sentence == "Rule 3 — six points in a row increasing: samples 4–9"
    assert e.sample_ids == tuple(ids[3:9]) and e.ordinals == (4, 5, 6, 7, 8, 9)


def test_rule_3_decreasing():
    ch = _established()
    _record(ch, [11.0, 10.8, 10.6, 10.4, 10.2, 10.0])
    assert _first(ch, 3).sentence == "Rule 3 — six points in a row decreasing: samples 1–6"


def test_rule_4_alternating():
    ch = _established()
    _record(ch, [10.0, *[9.5, 10.5] * 7])
    e = _first(ch, 4)
    assert e.sentence == "Rule 4 — fourteen points in a row alternating up and down: samples 1–14"


def test_rule_5_names_only_the_points_beyond_2_sigma():
    ch = _established()
    ids = _record(ch, [10.0, 10.0, 12.5, 10.0, 12.5])
    e = _first(ch, 5)
    assert e.sentence == ("Rule 5 — two of three points beyond 2σ on the same side (above): "
                          "samples 3, 5")
    assert e.sample_ids == (ids[2], ids[4])


def test_rule_6_below():
    ch = _established()
    _record(ch, [10.0, 8.5, 8.5, 10.0, 8.5, 8.5])
    assert _first(ch, 6).sentence == ("Rule 6 — four of five points beyond 1σ on the same side "
                                      "(below): samples 2, 3, 5, 6")


def test_rule_7_hugging_the_center_line():
    ch = _established()
    _record(ch, [10.1, 10.2, 9.9, 9.8] * 4)
    assert _first(ch, 7).sentence == ("Rule 7 — fifteen points in a row within 1σ of the center "
                                      "line: samples 1–15")


def test_rule_8_avoiding_the_center():
    ch = _established()
    _record(ch, [11.5, 8.5, 8.4, 11.6] * 2)
    assert _first(ch, 8).sentence == ("Rule 8 — eight points in a row beyond 1σ, on either side "
                                      "of the center line: samples 1–8")


def test_an_attribute_chart_shows_fractions_with_significant_digits():
    ch = CharacteristicFactory(chart_type=ChartType.P, subgroup_size=100)
    limit_versions.manual(ch, None, "known", center=0.1, effective_from=T0 - timedelta(days=1))
    _counts(ch, [(10, 100), (25, 100)])
    assert _first(ch, 1).sentence == ("Rule 1 — one point beyond the upper control limit (3σ): "
                                      "sample 2 at 0.25 > UCL 0.19")


def test_the_ewma_crossing_its_limit():
    ch = _established(ChartType.EWMA, decimal_places=3, ewma_lambda=0.2, ewma_l=3.0)
    _record(ch, [10.0, 10.0, 13.0, 13.0])
    e = _first(ch, 1)
    value, _, ucl, _ = _drawn(ch, e.violation.sample_id)
    assert value == pytest.approx(11.08)
    assert e.sentence == (f"Rule 1 — the EWMA crossed its upper limit (EWMA 11.080 > UCL "
                          f"{ucl:.3f}): sample 4")


def test_the_cusum_names_its_sum_and_h_and_the_points_since_it_left_zero():
    ch = _established(ChartType.CUSUM, decimal_places=1, cusum_k=0.5, cusum_h=5.0)
    ids = _record(ch, [10.0, 10.0, 12.0, 12.0, 12.0, 12.0])
    e = _first(ch, 1)
    assert e.sentence == "Rule 1 — the upper CUSUM C⁺ = 6.0 exceeded H = 5.0: samples 3–6"
    assert e.sample_ids == tuple(ids[2:])


def test_the_lower_cusum():
    ch = _established(ChartType.CUSUM, decimal_places=1)
    _record(ch, [8.0] * 4)
    assert _first(ch, 1).sentence == ("Rule 1 — the lower CUSUM C⁻ = 6.0 exceeded H = 5.0: "
                                      "samples 1–4")


def test_in_the_trial_phase_the_limit_is_called_a_trial_limit():
    ch = CharacteristicFactory(chart_type=ChartType.IMR, trial_min_subgroups=20)
    _record(ch, [10.0, 10.4, 9.7, 10.2, 9.9] * 4 + [30.0])
    e = _first(ch, 1)
    assert e.sentence.startswith("Rule 1 — one point beyond the upper control limit (3σ): "
                                 "sample 21 at 30.000 > trial UCL ")


def test_excluded_samples_inside_a_pattern_keep_their_numbers():
    ch = _established()
    ids = _record(ch, [9.0, 9.2, 50.0, 9.4, 9.6, 9.8, 10.0])
    set_excluded(Sample.objects.get(pk=ids[2]), True, "dropped gauge", None)
    e = _first(ch, 3)
    assert e.sentence == "Rule 3 — six points in a row increasing: samples 1, 2, 4–7"
    assert e.sample_ids == (ids[0], ids[1], *ids[3:])


def test_the_ordinals_count_the_history_before_the_pattern():
    ch = _established()
    _record(ch, [10.2, 9.8] * 20 + [10.0, 10.5, 9.5, 9.0, 9.2, 9.4, 9.6, 9.8, 10.0])
    assert _first(ch, 3).sentence == "Rule 3 — six points in a row increasing: samples 44–49"


def _queries_to_explain(history: int) -> int:
    ch = _established()
    ids = _record(ch, [10.2, 9.8] * history + [9.0, 9.2, 9.4, 9.6, 9.8, 10.0])
    sample = Sample.objects.get(pk=ids[-1])
    violations = list(sample.violations.filter(superseded_at__isnull=True))
    with CaptureQueriesContext(connection) as queries:
        explain(ch, violations, read_span_of(ch, sample, violations))
    return len(queries)


def test_explaining_costs_the_same_queries_at_any_history():
    assert _queries_to_explain(3) == _queries_to_explain(60) <= 8


def test_samples_are_named_as_runs_and_lists():
    assert samples_text([57]) == "sample 57"
    assert samples_text([12, 14]) == "samples 12, 14"
    assert samples_text([41, 42, 43, 44, 45, 46]) == "samples 41–46"
    assert samples_text([3, 4, 5, 7, 8, 10]) == "samples 3–5, 7, 8, 10"


def test_numbers_use_the_characteristics_decimal_places():
    ch = CharacteristicFactory.build(decimal_places=2)
    assert number(ch, 74.0614) == "74.06"
    assert number(ch, 0.031234, "p") == "0.03123"
    assert number(ch, None) == "—"


def test_later_patterns_are_those_that_hold_the_sample():
    ch = _established()
    ids = _record(ch, [10.0, 10.0, 12.5, 10.0, 12.5])  # rule 5 at sample 5: samples 3, 5
    in_it, between = Sample.objects.get(pk=ids[2]), Sample.objects.get(pk=ids[3])
    assert [v.rule for v in later_patterns(ch, in_it)] == [5]
    assert later_patterns(ch, between) == []
