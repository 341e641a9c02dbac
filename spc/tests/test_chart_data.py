"""Chart data: every selected point with the limits in force at it, its z-score and its rules."""

import json
import math
from datetime import timedelta

import pytest
from django.utils import timezone
from pytest import approx

from alerts.models import Violation
from spc import engine, limit_versions
from spc.chart_data import chart_data
from spc.models import ChartType, Sample
from spc.pipeline import record_samples
from spc.sample_edits import correct, set_excluded
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now() - timedelta(days=10)
MINUTE = timedelta(minutes=1)
D2_2 = 2 / math.sqrt(math.pi)  # d2(2)


def _values(ch, values, start=T0):
    return record_samples(ch, [SampleRequest(values=v if isinstance(v, list) else [v],
                                             timestamp=start + i * MINUTE)
                               for i, v in enumerate(values)])


def _counts(ch, pairs, start=T0):
    return record_samples(ch, [SampleRequest(count=c, sample_size=n, timestamp=start + i * MINUTE)
                               for i, (c, n) in enumerate(pairs)])


def _established(chart_type=ChartType.IMR, center=10.0, sigma=1.0, **kw):
    ch = CharacteristicFactory(chart_type=chart_type, **kw)
    limit_versions.manual(ch, None, "known process", center=center, sigma=sigma,
                          effective_from=T0 - timedelta(days=1))
    return ch


def _sample(ch, i):
    return Sample.objects.filter(characteristic=ch).order_by("timestamp", "id")[i]


def _field(points, name):
    return [p[name] for p in points]


def test_points_before_a_new_version_carry_the_old_limits_and_points_from_it_on_the_new():
    ch = _established(center=10.0, sigma=1.0)
    _values(ch, [10, 11, 9, 10.5, 12, 13, 12.5, 11.5])
    t1 = T0 + 4 * MINUTE  # exactly the time of the fifth point: it belongs to version 2
    limit_versions.manual(ch, None, "process shifted", center=12.0, sigma=0.5, effective_from=t1)

    data = chart_data(ch)
    points = data["primary"]["points"]

    assert _field(points, "limits_version") == [1] * 4 + [2] * 4
    assert [(p["center"], p["ucl"], p["lcl"]) for p in points[:4]] == [(10.0, 13.0, 7.0)] * 4
    assert [(p["center"], p["ucl"], p["lcl"]) for p in points[4:]] == [(12.0, 13.5, 10.5)] * 4
    assert points[1]["z"] == approx(1.0) and points[5]["z"] == approx(2.0)
    assert [(v["version"], v["is_active"]) for v in data["versions"]] == [(1, False), (2, True)]
    assert data["versions"][1]["effective_from"] == t1.isoformat()
    assert data["trial"] is None


def test_the_moving_range_restarts_with_each_limit_version_and_uses_its_sigma():
    ch = _established(center=10.0, sigma=1.0)
    _values(ch, [10, 11, 9, 10.5, 12, 13])
    limit_versions.manual(ch, None, "new", center=12.0, sigma=0.5, effective_from=T0 + 4 * MINUTE)

    secondary = chart_data(ch)["secondary"]

    assert secondary["statistic"] == "mr"
    assert _field(secondary["points"], "value") == [None, 1.0, 2.0, 1.5, None, 1.0]
    assert secondary["points"][1]["center"] == approx(D2_2 * 1.0)
    assert secondary["points"][5]["center"] == approx(D2_2 * 0.5)
    assert secondary["points"][5]["lcl"] == 0.0
    assert secondary["points"][5]["z"] == approx((1.0 - D2_2 * 0.5) / (engine.d3(2) * 0.5))


def test_the_trial_stage_is_judged_against_limits_fitted_to_its_non_excluded_samples():
    ch = CharacteristicFactory(chart_type=ChartType.IMR)
    _values(ch, [10, 10.5, 9.5, 10.2, 25.0, 9.8, 10.1])
    set_excluded(_sample(ch, 4), True, "Probe slipped", None)
    kept = [10, 10.5, 9.5, 10.2, 9.8, 10.1]
    center = sum(kept) / len(kept)
    sigma = sum(abs(b - a) for a, b in zip(kept, kept[1:], strict=False)) / 5 / D2_2

    data = chart_data(ch)
    points = data["primary"]["points"]

    assert data["trial"] == approx({"center": center, "sigma": sigma, "ucl": center + 3 * sigma,
                                    "lcl": center - 3 * sigma})
    assert {p["limits_version"] for p in points} == {None}
    assert points[0]["ucl"] == approx(center + 3 * sigma)
    assert points[0]["z"] == approx((10 - center) / sigma)
    assert data["versions"] == []
    # a shorter selection is still judged against the trial limits of the whole stage
    assert chart_data(ch, last=2)["primary"]["points"][0]["center"] == approx(center)


def test_the_trial_limits_come_from_the_trial_stage_only_and_appear_only_when_it_is_shown():
    ch = CharacteristicFactory(chart_type=ChartType.IMR)
    _values(ch, [10, 11, 10, 11, 50, 60])
    limit_versions.manual(ch, None, "established", center=55.0, sigma=2.0,
                          effective_from=T0 + 4 * MINUTE)

    data = chart_data(ch)

    assert data["trial"]["center"] == approx(10.5)
    assert _field(data["primary"]["points"], "center") == approx([10.5] * 4 + [55.0] * 2)
    assert [v["version"] for v in data["versions"]] == [1]
    assert chart_data(ch, last=2)["trial"] is None


def test_a_point_without_limits_yet_shows_its_value_and_nothing_else():
    ch = CharacteristicFactory(chart_type=ChartType.IMR)
    _values(ch, [10.2])

    data = chart_data(ch)
    (point,) = data["primary"]["points"]

    assert point["value"] == 10.2
    assert (point["center"], point["ucl"], point["lcl"], point["z"]) == (None,) * 4
    assert data["trial"] is None
    assert data["secondary"]["points"][0]["value"] is None


def test_a_p_chart_with_varying_sample_size_gets_limits_per_point():
    ch = CharacteristicFactory(chart_type=ChartType.P, subgroup_size=50, unit="")
    pairs = [(5, 50), (3, 40), (8, 80), (4, 50), (6, 60), (2, 40), (7, 70), (5, 50)]
    _counts(ch, pairs)
    limit_versions.recalculate(ch, None, "phase I", effective_from=T0)
    pbar = sum(c for c, _ in pairs) / sum(n for _, n in pairs)

    data = chart_data(ch)
    points = data["primary"]["points"]
    at_80 = points[2]

    assert data["primary"]["statistic"] == "p" and data["secondary"] is None
    assert at_80["n"] == 80 and at_80["value"] == approx(8 / 80)
    assert at_80["ucl"] == approx(pbar + 3 * math.sqrt(pbar * (1 - pbar) / 80))
    assert at_80["lcl"] == approx(max(0.0, pbar - 3 * math.sqrt(pbar * (1 - pbar) / 80)))
    assert at_80["z"] == approx((8 / 80 - pbar) / math.sqrt(pbar * (1 - pbar) / 80))
    assert points[1]["ucl"] == approx(pbar + 3 * math.sqrt(pbar * (1 - pbar) / 40))
    assert points[1]["ucl"] > points[0]["ucl"] > at_80["ucl"]
    assert _field(points, "center") == approx([pbar] * len(pairs))


def test_excluded_points_are_present_marked_and_have_no_z():
    ch = _established()
    _values(ch, [10, 11, 19, 9])
    set_excluded(_sample(ch, 2), True, "Gauge dropped", None)

    points = chart_data(ch)["primary"]["points"]

    assert _field(points, "excluded") == [False, False, True, False]
    assert points[2]["exclusion_reason"] == "Gauge dropped"
    assert points[2]["value"] == 19.0 and points[2]["ucl"] == 13.0
    assert points[2]["z"] is None
    assert points[2]["rules"] == []  # its rule-1 violation was superseded by the exclusion
    assert [p["z"] for p in points if not p["excluded"]] == approx([0.0, 1.0, -1.0])


def test_rules_list_only_the_live_violations_of_each_point():
    ch = _established(center=10.0, sigma=1.0)
    _values(ch, [10, 14.5, 10, 12.5, 13.5, 10])
    before = [p["rules"] for p in chart_data(ch)["primary"]["points"]]
    correct(_sample(ch, 1), SampleRequest(values=[10.2]), "typing error", None)

    after = [p["rules"] for p in chart_data(ch)["primary"]["points"]]

    assert before == [[], [1], [], [5], [1, 5], []]
    assert after == [[], [], [], [], [1, 5], []]
    superseded = Violation.objects.filter(characteristic=ch, superseded_at__isnull=False,
                                          chart="primary")
    assert sorted(superseded.values_list("rule", flat=True)) == [1, 5]


def test_the_moving_range_skips_an_excluded_point():
    ch = _established()
    _values(ch, [10, 11, 30, 12, 12.5])
    set_excluded(_sample(ch, 2), True, "Wrong part measured", None)

    points = chart_data(ch)["secondary"]["points"]

    assert _field(points, "value") == approx([None, 1.0, 19.0, 1.0, 0.5])
    assert _field(points, "excluded") == [False, False, True, False, False]
    assert points[2]["z"] is None and points[3]["z"] is not None
    # the excluded 30 no longer makes the moving ranges around it signal
    assert [p["rules"] for p in points] == [[], [], [], [], []]


def test_the_last_points_continue_the_moving_range_from_the_point_before_them():
    ch = _established()
    _values(ch, [10, 11, 12.5, 12, 11])

    assert _field(chart_data(ch, last=2)["secondary"]["points"], "value") == approx([0.5, 1.0])
    set_excluded(_sample(ch, 2), True, "Wrong part measured", None)
    assert _field(chart_data(ch, last=2)["secondary"]["points"], "value") == approx([1.0, 1.0])


def test_a_time_range_selects_the_points_in_it_both_ends_included():
    ch = _established()
    _values(ch, [10, 11, 12, 13, 14])

    data = chart_data(ch, start=T0 + MINUTE, end=T0 + 3 * MINUTE)
    both = chart_data(ch, last=2, start=T0, end=T0 + 3 * MINUTE)

    assert _field(data["primary"]["points"], "value") == [11.0, 12.0, 13.0]
    assert _field(both["primary"]["points"], "value") == [12.0, 13.0]
    assert chart_data(ch, last=0)["primary"]["points"] == []


def test_an_xbar_r_chart_plots_means_with_the_range_chart_beside_them():
    ch = _established(ChartType.XBAR_R, center=74.0, sigma=0.01, subgroup_size=5)
    _values(ch, [[74.03, 74.002, 74.019, 73.992, 74.008], [73.995, 73.992, 74.001, 74.011, 74.004]])

    data = chart_data(ch)
    mean, r = data["primary"]["points"][0], data["secondary"]["points"][0]

    assert mean["value"] == approx(74.0102) and mean["n"] == 5
    assert mean["ucl"] == approx(74.0 + 3 * 0.01 / math.sqrt(5))
    assert data["secondary"]["statistic"] == "r"
    assert r["value"] == approx(74.03 - 73.992)
    assert r["center"] == approx(engine.d2(5) * 0.01)
    assert r["ucl"] == approx((engine.d2(5) + 3 * engine.d3(5)) * 0.01)
    assert r["z"] == approx((0.038 - engine.d2(5) * 0.01) / (engine.d3(5) * 0.01))


def test_an_ewma_chart_plots_the_ewma_statistic_and_continues_it_into_a_short_selection():
    ch = _established(ChartType.EWMA, center=10.0, sigma=1.0, ewma_lambda=0.2, ewma_l=3.0)
    _values(ch, [11, 12, 9, 10])

    points = chart_data(ch)["primary"]["points"]

    assert _field(points, "value") == approx([10.2, 10.56, 10.248, 10.1984])
    assert points[0]["ucl"] == approx(10.0 + 3 * math.sqrt(0.2 / 1.8 * (1 - 0.8 ** 2)))
    assert points[0]["z"] == approx(0.2 / math.sqrt(0.2 / 1.8 * (1 - 0.8 ** 2)))
    assert chart_data(ch, last=1)["primary"]["points"][0]["value"] == approx(10.1984)


def test_a_cusum_chart_plots_the_upper_and_lower_sums_against_the_decision_interval():
    ch = _established(ChartType.CUSUM, center=10.0, sigma=1.0, cusum_k=0.5, cusum_h=5.0)
    _values(ch, [11, 12, 9])

    points = chart_data(ch)["primary"]["points"]

    assert _field(points, "upper") == approx([0.5, 2.0, 0.5])
    assert _field(points, "lower") == approx([0.0, 0.0, 0.5])
    assert {(p["center"], p["ucl"], p["lcl"]) for p in points} == {(0.0, 5.0, -5.0)}
    assert _field(points, "value") == [None] * 3
    assert chart_data(ch, last=1)["primary"]["points"][0]["upper"] == approx(0.5)


@pytest.mark.parametrize("chart_type, primary, secondary", [
    (ChartType.XBAR_R, "xbar", "r"), (ChartType.XBAR_S, "xbar", "s"), (ChartType.IMR, "i", "mr"),
    (ChartType.P, "p", None), (ChartType.NP, "np", None), (ChartType.C, "c", None),
    (ChartType.U, "u", None), (ChartType.EWMA, "ewma", None), (ChartType.CUSUM, "cusum", None),
])
def test_every_chart_type_gives_plain_json_in_its_trial_stage(chart_type, primary, secondary):
    size = {ChartType.XBAR_R: 3, ChartType.XBAR_S: 3, ChartType.P: 20, ChartType.NP: 20,
            ChartType.U: 5}.get(chart_type, 1)
    ch = CharacteristicFactory(chart_type=chart_type, subgroup_size=size, target=10.0)
    if ch.is_attribute:
        _counts(ch, [(c, size) for c in (2, 3, 1, 4, 2, 3)])
    else:
        _values(ch, [[x + d for d in (0, 0.3, -0.2)[:size]] for x in (10, 10.4, 9.7, 10.2, 9.9)])
    set_excluded(_sample(ch, 1), True, "test", None)

    data = chart_data(ch)

    json.dumps(data, allow_nan=False)
    assert data["primary"]["statistic"] == primary
    assert (data["secondary"] or {}).get("statistic") == secondary
    assert data["trial"] is not None
    assert all(p["ucl"] is not None for p in data["primary"]["points"])
    assert [p["z"] is None for p in data["primary"]["points"]][:2] == [False, True]


def _many(ch, count, batch=250):
    for first in range(0, count, batch):
        record_samples(ch, [
            SampleRequest(values=[10 + (i * 7 % 11) / 10 + (3 if i % 97 == 0 else 0) + d
                                  for d in (0, 0.2, -0.1, 0.3, 0.1)][:max(ch.subgroup_size, 1)],
                          timestamp=T0 + i * MINUTE)
            for i in range(first, min(first + batch, count))
        ])


def test_the_queries_for_500_points_are_few_and_do_not_grow_with_the_points(
        django_assert_max_num_queries):
    established = _established(center=10.5, sigma=0.3)
    _many(established, 600)
    set_excluded(_sample(established, 550), True, "test", None)
    trial = CharacteristicFactory(chart_type=ChartType.XBAR_R, subgroup_size=5)
    _many(trial, 500)

    with django_assert_max_num_queries(5):
        data = chart_data(established, last=500)
    assert len(data["primary"]["points"]) == 500
    kept = [p for p in data["primary"]["points"] if not p["excluded"]]
    assert any(p["rules"] for p in kept)
    assert all((1 in p["rules"]) == (abs(p["z"]) > 3) for p in kept)  # as the pipeline judged
    with django_assert_max_num_queries(5):
        data = chart_data(trial, last=500)
    assert len(data["secondary"]["points"]) == 500 and data["trial"] is not None
