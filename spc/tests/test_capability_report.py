"""Capability of a characteristic over a selection of its samples, with σ within from its limits."""

import json
import math
from datetime import timedelta

import pytest
from django.utils import timezone
from pytest import approx

from spc import limit_versions
from spc.capability_report import CapabilityUnavailable, capability_for
from spc.models import ChartType, Sample
from spc.pipeline import record_samples
from spc.sample_edits import set_excluded
from spc.sample_input import SampleRequest
from spc.tests.engine import _reference
from spc.tests.factories import CharacteristicFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now() - timedelta(days=10)
MINUTE = timedelta(minutes=1)
D2_2 = 2 / math.sqrt(math.pi)  # d2(2)

# The reference file's keys → the fields of the report (percentages are ppm / 10⁴).
INDICES = {"Cp": "cp", "Cp_u": "cpu", "Cp_l": "cpl", "Cp_k": "cpk", "Cpm": "cpm", "Pp": "pp",
           "Pp_u": "ppu", "Pp_l": "ppl", "Pp_k": "ppk", "Ppm": "cpm_overall"}
PERCENTAGES = {"exp_below_lsl_pct": "ppm_below_lsl", "exp_above_usl_pct": "ppm_above_usl",
               "obs_below_lsl_pct": "observed_ppm_below_lsl",
               "obs_above_usl_pct": "observed_ppm_above_usl"}


def _values(ch, values, start=T0):
    return record_samples(ch, [SampleRequest(values=v if isinstance(v, list) else [v],
                                             timestamp=start + i * MINUTE)
                               for i, v in enumerate(values)])


def test_the_piston_ring_capability_matches_the_published_qcc_results():
    """Piston-ring inside diameters (mm), 25 phase-I subgroups of 5: Montgomery, *Introduction to
    Statistical Quality Control* (Table 6.3 / Example 6.3); data from the R package qcc
    (`pistonrings`), published capability from the qcc 3.0 vignette "A quick tour of qcc"
    (processCapability) — spc/tests/reference/pistonrings_capability.json, compared
    within that file's tolerances (Pp, Ppk and expected ppm are its first-principles values)."""
    ref = _reference.load("pistonrings_capability")
    expected, tolerance = ref["expected"], ref["tolerance"]["abs"]
    ch = CharacteristicFactory(chart_type=ChartType.XBAR_R, subgroup_size=ref["subgroup_size"])
    _values(ch, ref["data"])  # phase I and phase II, one subgroup a minute
    phase_one = ref["phase_I_rows"]
    start, end = T0 + phase_one[0] * MINUTE, T0 + phase_one[-1] * MINUTE
    limit_versions.recalculate(ch, None, "phase I", start=start, end=end, effective_from=T0)

    def close(got, key):
        assert got == approx(expected[key], abs=tolerance[key]), key

    for case in ref["capability_cases"]:
        ch.usl, ch.lsl, ch.target = case["usl"], case["lsl"], case["target"]
        report = capability_for(ch, start=start, end=end)

        assert (report["kind"], report["sigma_within_source"]) == ("normal", "limits v1")
        assert (report["n_samples"], report["n_values"]) == (25, 125)
        assert (report["from"], report["to"]) == (start.isoformat(), end.isoformat())
        close(report["mean"], "center")
        close(report["sigma_within"], "sigma_within")
        close(report["sigma_overall"], "sigma_overall")
        close(report["n"], "n_obs")
        for key, field in INDICES.items():
            close(report[field], f"{case['id']}.{key}")
        for key, field in PERCENTAGES.items():
            close(report[field] / 1e4, f"{case['id']}.{key}")


def test_without_limits_sigma_within_comes_from_a_fit_of_the_selection():
    ch = CharacteristicFactory(chart_type=ChartType.IMR, usl=12.0, lsl=8.0)
    values = [10, 10.5, 9.5, 10.2, 9.8, 10.1, 9.9, 10.4, 9.6, 10.0]
    _values(ch, values)
    sigma = sum(abs(b - a) for a, b in zip(values, values[1:], strict=False)) / 9 / D2_2

    report = capability_for(ch)

    assert report["sigma_within_source"] == "fit of the selection"
    assert report["sigma_within"] == approx(sigma)
    assert report["cp"] == approx(4.0 / (6 * sigma))
    assert report["target"] == 10.0  # the engine's default: the middle of the specification
    json.dumps(report, allow_nan=False)


def test_excluded_samples_and_samples_outside_the_selection_are_left_out():
    ch = CharacteristicFactory(chart_type=ChartType.IMR, usl=12.0)
    _values(ch, [50.0, 10, 10.5, 30.0, 9.5, 10.2])
    set_excluded(Sample.objects.get(characteristic=ch, mean=30.0), True, "bad part", None)

    report = capability_for(ch, last=5)

    assert (report["n_samples"], report["n_values"]) == (4, 4)
    assert report["mean"] == approx((10 + 10.5 + 9.5 + 10.2) / 4)
    assert report["from"] == (T0 + MINUTE).isoformat()
    assert report["cpl"] is None and report["cpk"] == report["cpu"]  # one-sided: USL only


def _counts(ch, rows, start=T0):
    return record_samples(ch, [SampleRequest(count=d, sample_size=n, timestamp=start + i * MINUTE)
                               for i, (d, n) in enumerate(rows)])


def test_a_p_chart_reports_its_fraction_defective_with_montgomerys_p_bar():
    """Orange-juice cans (Montgomery; qcc `orangejuice`), the 30 trial samples of 50:
    p̄ = 0.2313333 as qcc prints it; the interval is the exact (Clopper–Pearson) one."""
    ref = _reference.load("orangejuice_p_trial")
    ch = CharacteristicFactory(chart_type=ChartType.P, subgroup_size=50)
    _counts(ch, [ref["data"][i] for i in ref["phase_I_rows"]])

    report = capability_for(ch)

    assert report["kind"] == "binomial"
    assert (report["n_samples"], report["defectives"], report["inspected"]) == (30, 347, 1500)
    _reference.check(ref, "p.center", report["p"])
    assert report["percent_defective"] == approx(100 * 347 / 1500)
    # 1 − p̄ = 0.76867 lies between Φ(0.73) = 0.7673 and Φ(0.74) = 0.7704 (normal table)
    assert 0.73 < report["process_z"] < 0.74
    low, high = report["p_ci95"]
    assert low < report["p"] < high
    assert (report["from"], report["to"]) == (T0.isoformat(), (T0 + 29 * MINUTE).isoformat())
    json.dumps(report, allow_nan=False)


def test_a_u_chart_reports_defects_per_unit_with_montgomerys_u_bar():
    ref = _reference.load("pcmanufact_u")
    ch = CharacteristicFactory(chart_type=ChartType.U, subgroup_size=5)
    _counts(ch, ref["data"])

    report = capability_for(ch)

    assert (report["kind"], report["n_samples"], report["units"]) == ("poisson", 20, 100)
    _reference.check(ref, "u.center", report["dpu"])
    json.dumps(report, allow_nan=False)


def test_a_c_chart_reports_defects_per_sample_with_montgomerys_c_bar():
    ref = _reference.load("circuit_c_trial")
    ch = CharacteristicFactory(chart_type=ChartType.C, subgroup_size=100)
    _counts(ch, [ref["data"][i] for i in ref["phase_I_rows"]])

    report = capability_for(ch)

    assert report["kind"] == "poisson"
    _reference.check(ref, "c.center", report["mean_defects"])
    _reference.check(ref, "u.center", report["dpu"])


def test_an_np_chart_without_defectives_reports_the_upper_bound_and_no_process_z():
    ch = CharacteristicFactory(chart_type=ChartType.NP, subgroup_size=100)
    _counts(ch, [(0, 100)] * 10 + [(9, 100)])
    set_excluded(Sample.objects.get(characteristic=ch, count=9), True, "wrong gauge", None)

    report = capability_for(ch)

    assert (report["n_samples"], report["defectives"], report["p"]) == (10, 0, 0.0)
    assert report["process_z"] is None and report["process_z_ci95"][1] is None
    assert report["ppm_ci95"] == approx([0.0, 1e6 * (1 - 0.025 ** (1 / 1000))])
    assert "no defectives" in report["warnings"][0]
    json.dumps(report, allow_nan=False)


def test_attribute_capability_needs_a_sample_and_says_so():
    ch = CharacteristicFactory(chart_type=ChartType.P, subgroup_size=50)
    with pytest.raises(CapabilityUnavailable, match="at least 1 sample; the selection holds none"):
        capability_for(ch)
    _counts(ch, [(3, 50)])
    set_excluded(Sample.objects.get(characteristic=ch), True, "bad sample", None)
    with pytest.raises(CapabilityUnavailable, match=r"\(1 excluded sample\(s\) not counted\)"):
        capability_for(ch)


def test_without_specification_limits_there_is_no_capability():
    ch = CharacteristicFactory(chart_type=ChartType.IMR)
    _values(ch, [10, 10.5, 9.5])

    with pytest.raises(CapabilityUnavailable, match="no specification limits"):
        capability_for(ch)


def test_too_few_values_are_refused_with_the_count():
    ch = CharacteristicFactory(chart_type=ChartType.IMR, usl=12.0, lsl=8.0)
    _values(ch, [10, 10.5])
    set_excluded(Sample.objects.get(characteristic=ch, mean=10.5), True, "bad part", None)

    with pytest.raises(CapabilityUnavailable, match="at least 2 measured values.*holds 1"):
        capability_for(ch)


def test_the_engines_refusal_is_passed_on_with_its_message():
    ch = CharacteristicFactory(chart_type=ChartType.IMR, usl=8.0, lsl=12.0)
    _values(ch, [10, 10.5, 9.5])
    limit_versions.manual(ch, None, "known", center=10.0, sigma=0.5)

    with pytest.raises(CapabilityUnavailable, match=r"USL \(8\) must be greater than LSL \(12\)"):
        capability_for(ch)
    flat = CharacteristicFactory(chart_type=ChartType.IMR, usl=12.0, lsl=8.0)
    _values(flat, [10, 10, 10])
    with pytest.raises(CapabilityUnavailable, match="all 3 values are equal"):
        capability_for(flat)
