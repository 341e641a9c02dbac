"""Chart data, as columns: every selected point with the limits in force at it, its z-score and
its rules."""

import json
import math
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from pytest import approx
from rest_framework.test import APIClient

from plants.models import Level
from plants.tests.factories import NodeFactory
from spc import engine, limit_versions
from spc.api.renderers import dumps
from spc.chart_data import chart_data
from spc.models import ChartType, Sample, Violation
from spc.pipeline import record_samples
from spc.sample_edits import correct, set_excluded
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now() - timedelta(days=10)
MINUTE = timedelta(minutes=1)
D2_2 = 2 / math.sqrt(math.pi)  # d2(2)
SHARED = ("sample_id", "timestamp", "n", "excluded", "exclusion_reason", "limits_version")
PER_CHART = ("value", "center", "ucl", "lcl", "z", "rules")


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


def _refuse(token):
    raise AssertionError(f"{token} is not JSON")


def _json(data) -> dict:
    """The payload as the API writes it (NaN as null), read back with a strict parser."""
    return json.loads(dumps(data), parse_constant=_refuse)


def _utc(moment) -> str:
    """A UTC time as the API writes it, DRF's way: ISO 8601 ending in Z."""
    return moment.isoformat().replace("+00:00", "Z")


def _chart(ch, **selection) -> dict:
    return _json(chart_data(ch, **selection))


def _limits(chart, a=None, b=None):
    return list(zip(chart["center"], chart["ucl"], chart["lcl"], strict=True))[a:b]


def _columns(data) -> list[list]:
    """Every per-point column of a payload: the shared ones, then each chart's."""
    charts = [c for c in (data["primary"], data["secondary"]) if c is not None]
    return [data[k] for k in SHARED] + [c[k] for c in charts for k in c if k != "statistic"]


def test_the_shared_columns_come_once_and_every_column_has_one_item_per_point():
    ch = _established(ChartType.XBAR_R, center=74.0, sigma=0.01, subgroup_size=3)
    _values(ch, [[74.0, 74.01, 73.99]] * 3 + [[74.1, 74.0, 74.0]])
    set_excluded(_sample(ch, 1), True, "Wrong gauge", None)
    samples = list(Sample.objects.filter(characteristic=ch).order_by("timestamp", "id"))

    data = _chart(ch)

    assert data["sample_id"] == [s.pk for s in samples]
    assert data["timestamp"] == [_utc(s.timestamp) for s in samples]
    assert data["n"] == [3] * 4 and data["limits_version"] == [1] * 4
    assert data["excluded"] == [False, True, False, False]
    assert data["exclusion_reason"] == ["", "Wrong gauge", "", ""]
    for chart in (data["primary"], data["secondary"]):
        assert set(chart) == {"statistic", *PER_CHART}  # nothing shared is repeated per chart
    assert {len(c) for c in _columns(data)} == {4}


def test_in_process_the_columns_are_numpy_arrays_with_nan_for_no_value():
    ch = _established()
    _values(ch, [10, 11, 19])
    set_excluded(_sample(ch, 2), True, "Gauge dropped", None)

    data = chart_data(ch)

    assert data["sample_id"].dtype == np.int64 and data["excluded"].dtype == bool
    assert data["timestamp"].dtype == np.dtype("datetime64[us]")
    assert data["timestamp"][0].item() == _sample(ch, 0).timestamp.replace(tzinfo=None)
    assert np.isnan(data["primary"]["z"][2]) and np.isnan(data["secondary"]["value"][0])


def test_timestamps_are_iso_8601_in_utc_with_the_offset_to_the_microsecond():
    ch = _established()
    whole = T0.replace(microsecond=0)
    stamps = [whole, whole + timedelta(microseconds=1500), whole + timedelta(seconds=1)]
    record_samples(ch, [SampleRequest(values=[10], timestamp=t) for t in stamps])

    timestamps = _chart(ch)["timestamp"]

    assert timestamps == [_utc(t) for t in stamps]
    assert timestamps[0] == whole.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_rules_of_each_point_are_its_live_violations_on_each_chart():
    ch = _established(center=10.0, sigma=1.0)
    _values(ch, [10, 10.2, 16, 10.1, 10, 14.5, 10.3, 10])
    correct(_sample(ch, 5), SampleRequest(values=[10.4]), "typing error", None)

    data = _chart(ch)

    live = Violation.objects.filter(characteristic=ch, superseded_at__isnull=True)
    for chart in ("primary", "secondary"):
        fired: dict[int, set[int]] = {}
        for sample_id, rule in live.filter(chart=chart).values_list("sample_id", "rule"):
            fired.setdefault(sample_id, set()).add(rule)
        assert data[chart]["rules"] == [sorted(fired.get(i, ())) for i in data["sample_id"]]
    assert data["primary"]["rules"][2] == [1] and data["secondary"]["rules"][2] == [1]
    assert data["primary"]["rules"][5] == []  # superseded by the correction


def test_the_api_sends_no_value_as_null_and_the_same_columns(cast):
    ch = CharacteristicFactory(node=NodeFactory(plant=cast.plant, level=Level.LINE))
    limit_versions.manual(ch, None, "known process", center=10.0, sigma=1.0,
                          effective_from=T0 - timedelta(days=1))
    _values(ch, [10, 11, 19, 9])
    set_excluded(_sample(ch, 2), True, "Gauge dropped", None)
    client = APIClient()
    client.force_authenticate(cast.operator)
    url = f"/api/v1/characteristics/{ch.pk}/chart-data/?last=10"

    r = client.get(url)

    assert r.status_code == 200 and r["Content-Type"] == "application/json"
    assert b"NaN" not in r.content and b"Infinity" not in r.content
    body = json.loads(r.content, parse_constant=_refuse)
    assert body["secondary"]["value"][0] is None and body["primary"]["z"][2] is None
    assert body == _chart(ch, last=10)
    assert client.get(url, HTTP_ACCEPT="text/html").status_code == 200  # the browsable API


def test_points_before_a_new_version_carry_the_old_limits_and_points_from_it_on_the_new():
    ch = _established(center=10.0, sigma=1.0)
    _values(ch, [10, 11, 9, 10.5, 12, 13, 12.5, 11.5])
    t1 = T0 + 4 * MINUTE  # exactly the time of the fifth point: it belongs to version 2
    limit_versions.manual(ch, None, "process shifted", center=12.0, sigma=0.5, effective_from=t1)

    data = _chart(ch)
    primary = data["primary"]

    assert data["limits_version"] == [1] * 4 + [2] * 4
    assert _limits(primary, 0, 4) == [(10.0, 13.0, 7.0)] * 4
    assert _limits(primary, 4) == [(12.0, 13.5, 10.5)] * 4
    assert primary["z"][1] == approx(1.0) and primary["z"][5] == approx(2.0)
    assert [(v["version"], v["is_active"]) for v in data["versions"]] == [(1, False), (2, True)]
    assert data["versions"][1]["effective_from"] == _utc(t1)
    assert data["trial"] is None


def test_the_moving_range_restarts_with_each_limit_version_and_uses_its_sigma():
    ch = _established(center=10.0, sigma=1.0)
    _values(ch, [10, 11, 9, 10.5, 12, 13])
    limit_versions.manual(ch, None, "new", center=12.0, sigma=0.5, effective_from=T0 + 4 * MINUTE)

    secondary = _chart(ch)["secondary"]

    assert secondary["statistic"] == "mr"
    assert secondary["value"] == [None, 1.0, 2.0, 1.5, None, 1.0]
    assert secondary["center"][1] == approx(D2_2 * 1.0)
    assert secondary["center"][5] == approx(D2_2 * 0.5)
    assert secondary["lcl"][5] == 0.0
    assert secondary["z"][5] == approx((1.0 - D2_2 * 0.5) / (engine.d3(2) * 0.5))


def test_the_trial_stage_is_judged_against_limits_fitted_to_its_non_excluded_samples():
    ch = CharacteristicFactory(chart_type=ChartType.IMR)
    _values(ch, [10, 10.5, 9.5, 10.2, 25.0, 9.8, 10.1])
    set_excluded(_sample(ch, 4), True, "Probe slipped", None)
    kept = [10, 10.5, 9.5, 10.2, 9.8, 10.1]
    center = sum(kept) / len(kept)
    sigma = sum(abs(b - a) for a, b in zip(kept, kept[1:], strict=False)) / 5 / D2_2

    data = _chart(ch)
    primary = data["primary"]

    # the last point is judged against the fit of every kept point, itself included
    assert data["trial"] == approx({"center": center, "sigma": sigma, "ucl": center + 3 * sigma,
                                    "lcl": center - 3 * sigma})
    assert data["limits_version"] == [None] * 7
    assert primary["ucl"][6] == approx(center + 3 * sigma)
    assert primary["z"][6] == approx((10.1 - center) / sigma)
    # each earlier point against the fit of the kept points up to it: the 4th against 4 points
    first4 = [10, 10.5, 9.5, 10.2]
    sigma4 = sum(abs(b - a) for a, b in zip(first4, first4[1:], strict=False)) / 3 / D2_2
    assert primary["center"][3] == approx(sum(first4) / 4)
    assert primary["ucl"][3] == approx(sum(first4) / 4 + 3 * sigma4)
    assert primary["ucl"][0] is None  # one point: no fit yet
    assert data["versions"] == []
    # a shorter selection shows the same per-point limits
    assert _chart(ch, last=2)["primary"]["center"] == approx(primary["center"][5:])


def test_the_trial_limits_come_from_the_trial_stage_only_and_appear_only_when_it_is_shown():
    ch = CharacteristicFactory(chart_type=ChartType.IMR)
    _values(ch, [10, 11, 10, 11, 50, 60])
    limit_versions.manual(ch, None, "established", center=55.0, sigma=2.0,
                          effective_from=T0 + 4 * MINUTE)

    data = _chart(ch)

    assert data["trial"]["center"] == approx(10.5)
    assert data["primary"]["center"][1:] == approx([10.5, 31 / 3, 10.5] + [55.0] * 2)
    assert data["limits_version"] == [None] * 4 + [1] * 2
    assert [v["version"] for v in data["versions"]] == [1]
    assert _chart(ch, last=2)["trial"] is None


def test_a_point_without_limits_yet_shows_its_value_and_nothing_else():
    ch = CharacteristicFactory(chart_type=ChartType.IMR)
    _values(ch, [10.2])

    data = _chart(ch)
    primary = data["primary"]

    assert primary["value"] == [10.2]
    assert (primary["center"], primary["ucl"], primary["lcl"], primary["z"]) == ([None],) * 4
    assert data["trial"] is None
    assert data["secondary"]["value"] == [None]


def test_a_p_chart_with_varying_sample_size_gets_limits_per_point():
    ch = CharacteristicFactory(chart_type=ChartType.P, subgroup_size=50, unit="")
    pairs = [(5, 50), (3, 40), (8, 80), (4, 50), (6, 60), (2, 40), (7, 70), (5, 50)]
    _counts(ch, pairs)
    limit_versions.recalculate(ch, None, "phase I", effective_from=T0)
    pbar = sum(c for c, _ in pairs) / sum(n for _, n in pairs)

    data = _chart(ch)
    p = data["primary"]

    assert p["statistic"] == "p" and data["secondary"] is None
    assert data["n"][2] == 80 and p["value"][2] == approx(8 / 80)
    assert p["ucl"][2] == approx(pbar + 3 * math.sqrt(pbar * (1 - pbar) / 80))
    assert p["lcl"][2] == approx(max(0.0, pbar - 3 * math.sqrt(pbar * (1 - pbar) / 80)))
    assert p["z"][2] == approx((8 / 80 - pbar) / math.sqrt(pbar * (1 - pbar) / 80))
    assert p["ucl"][1] == approx(pbar + 3 * math.sqrt(pbar * (1 - pbar) / 40))
    assert p["ucl"][1] > p["ucl"][0] > p["ucl"][2]
    assert p["center"] == approx([pbar] * len(pairs))


def test_excluded_points_are_present_marked_and_have_no_z():
    ch = _established()
    _values(ch, [10, 11, 19, 9])
    set_excluded(_sample(ch, 2), True, "Gauge dropped", None)

    data = _chart(ch)
    primary = data["primary"]

    assert data["excluded"] == [False, False, True, False]
    assert data["exclusion_reason"] == ["", "", "Gauge dropped", ""]
    assert primary["value"][2] == 19.0 and primary["ucl"][2] == 13.0
    assert primary["z"][2] is None
    assert primary["rules"][2] == []  # its rule-1 violation was superseded by the exclusion
    assert [primary["z"][i] for i in (0, 1, 3)] == approx([0.0, 1.0, -1.0])


def test_rules_list_only_the_live_violations_of_each_point():
    ch = _established(center=10.0, sigma=1.0)
    _values(ch, [10, 14.5, 10, 12.5, 13.5, 10])
    before = _chart(ch)["primary"]["rules"]
    correct(_sample(ch, 1), SampleRequest(values=[10.2]), "typing error", None)

    after = _chart(ch)["primary"]["rules"]

    assert before == [[], [1], [], [5], [1, 5], []]
    assert after == [[], [], [], [], [1, 5], []]
    superseded = Violation.objects.filter(characteristic=ch, superseded_at__isnull=False,
                                          chart="primary")
    assert sorted(superseded.values_list("rule", flat=True)) == [1, 5]


def test_the_moving_range_skips_an_excluded_point():
    ch = _established()
    _values(ch, [10, 11, 30, 12, 12.5])
    set_excluded(_sample(ch, 2), True, "Wrong part measured", None)

    data = _chart(ch)
    secondary = data["secondary"]

    assert secondary["value"] == approx([None, 1.0, 19.0, 1.0, 0.5])
    assert data["excluded"] == [False, False, True, False, False]
    assert secondary["z"][2] is None and secondary["z"][3] is not None
    # the excluded 30 no longer makes the moving ranges around it signal
    assert secondary["rules"] == [[], [], [], [], []]


def test_the_last_points_continue_the_moving_range_from_the_point_before_them():
    ch = _established()
    _values(ch, [10, 11, 12.5, 12, 11])

    assert _chart(ch, last=2)["secondary"]["value"] == approx([0.5, 1.0])
    set_excluded(_sample(ch, 2), True, "Wrong part measured", None)
    assert _chart(ch, last=2)["secondary"]["value"] == approx([1.0, 1.0])


def test_a_time_range_selects_the_points_in_it_both_ends_included():
    ch = _established()
    _values(ch, [10, 11, 12, 13, 14])

    data = _chart(ch, start=T0 + MINUTE, end=T0 + 3 * MINUTE)
    both = _chart(ch, last=2, start=T0, end=T0 + 3 * MINUTE)
    none = _chart(ch, last=0)

    assert data["primary"]["value"] == [11.0, 12.0, 13.0]
    assert both["primary"]["value"] == [12.0, 13.0]
    assert none["sample_id"] == none["timestamp"] == none["primary"]["value"] == []
    assert none["secondary"]["rules"] == [] and none["versions"] == []


def test_an_xbar_r_chart_plots_means_with_the_range_chart_beside_them():
    ch = _established(ChartType.XBAR_R, center=74.0, sigma=0.01, subgroup_size=5)
    _values(ch, [[74.03, 74.002, 74.019, 73.992, 74.008], [73.995, 73.992, 74.001, 74.011, 74.004]])

    data = _chart(ch)
    mean, r = data["primary"], data["secondary"]

    assert mean["value"][0] == approx(74.0102) and data["n"] == [5, 5]
    assert mean["ucl"][0] == approx(74.0 + 3 * 0.01 / math.sqrt(5))
    assert r["statistic"] == "r"
    assert r["value"][0] == approx(74.03 - 73.992)
    assert r["center"][0] == approx(engine.d2(5) * 0.01)
    assert r["ucl"][0] == approx((engine.d2(5) + 3 * engine.d3(5)) * 0.01)
    assert r["z"][0] == approx((0.038 - engine.d2(5) * 0.01) / (engine.d3(5) * 0.01))


def test_an_ewma_chart_plots_the_ewma_statistic_and_continues_it_into_a_short_selection():
    ch = _established(ChartType.EWMA, center=10.0, sigma=1.0, ewma_lambda=0.2, ewma_l=3.0)
    _values(ch, [11, 12, 9, 10])

    primary = _chart(ch)["primary"]

    assert primary["value"] == approx([10.2, 10.56, 10.248, 10.1984])
    assert primary["ucl"][0] == approx(10.0 + 3 * math.sqrt(0.2 / 1.8 * (1 - 0.8 ** 2)))
    assert primary["z"][0] == approx(0.2 / math.sqrt(0.2 / 1.8 * (1 - 0.8 ** 2)))
    assert _chart(ch, last=1)["primary"]["value"] == approx([10.1984])


def test_a_cusum_chart_plots_the_upper_and_lower_sums_against_the_decision_interval():
    ch = _established(ChartType.CUSUM, center=10.0, sigma=1.0, cusum_k=0.5, cusum_h=5.0)
    _values(ch, [11, 12, 9])

    primary = _chart(ch)["primary"]

    assert primary["upper"] == approx([0.5, 2.0, 0.5])
    assert primary["lower"] == approx([0.0, 0.0, 0.5])
    assert set(_limits(primary)) == {(0.0, 5.0, -5.0)}
    assert primary["value"] == [None] * 3
    assert _chart(ch, last=1)["primary"]["upper"] == approx([0.5])


@pytest.mark.parametrize("chart_type, primary, secondary", [
    (ChartType.XBAR_R, "xbar", "r"), (ChartType.XBAR_S, "xbar", "s"), (ChartType.IMR, "i", "mr"),
    (ChartType.P, "p", None), (ChartType.NP, "np", None), (ChartType.C, "c", None),
    (ChartType.U, "u", None), (ChartType.EWMA, "ewma", None), (ChartType.CUSUM, "cusum", None),
])
def test_every_chart_type_gives_strict_json_in_its_trial_stage(chart_type, primary, secondary):
    size = {ChartType.XBAR_R: 3, ChartType.XBAR_S: 3, ChartType.P: 20, ChartType.NP: 20,
            ChartType.U: 5}.get(chart_type, 1)
    ch = CharacteristicFactory(chart_type=chart_type, subgroup_size=size, target=10.0)
    if ch.is_attribute:
        _counts(ch, [(c, size) for c in (2, 3, 1, 4, 2, 3)])
    else:
        _values(ch, [[x + d for d in (0, 0.3, -0.2)[:size]] for x in (10, 10.4, 9.7, 10.2, 9.9)])
    set_excluded(_sample(ch, 1), True, "test", None)

    data = _chart(ch)  # parsed strictly: no NaN or Infinity anywhere

    assert data["primary"]["statistic"] == primary
    assert (data["secondary"] or {}).get("statistic") == secondary
    assert data["trial"] is not None
    # the first point has no trial fit yet; the excluded second shows the limits before it
    assert None not in data["primary"]["ucl"][2:]
    assert [z is None for z in data["primary"]["z"]][1:3] == [True, False]
    assert {len(c) for c in _columns(data)} == {len(data["sample_id"])}


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
    primary = data["primary"]
    assert len(primary["value"]) == 500
    kept = np.flatnonzero(~data["excluded"])
    assert kept.size == 499 and any(primary["rules"][i] for i in kept)
    # as the pipeline judged
    assert all((1 in primary["rules"][i]) == (abs(primary["z"][i]) > 3) for i in kept)
    with django_assert_max_num_queries(5):
        data = chart_data(trial, last=500)
    assert len(data["secondary"]["value"]) == 500 and data["trial"] is not None
