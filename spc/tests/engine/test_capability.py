"""Capability indices against published references, plus the parts without one."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from spc import engine as E

from ._reference import check, load

# data-set field suffix → Capability attribute (and a scale: percent ↔ ppm)
FIELDS = {
    "Cp": ("cp", 1.0),
    "Cp_u": ("cpu", 1.0),
    "Cp_l": ("cpl", 1.0),
    "Cp_k": ("cpk", 1.0),
    "Cpm": ("cpm", 1.0),
    "Pp": ("pp", 1.0),
    "Pp_u": ("ppu", 1.0),
    "Pp_l": ("ppl", 1.0),
    "Pp_k": ("ppk", 1.0),
    "Ppm": ("cpm_overall", 1.0),
    "exp_below_lsl_pct": ("ppm_below_lsl", 1e-4),
    "exp_above_usl_pct": ("ppm_above_usl", 1e-4),
    "obs_below_lsl_pct": ("observed_ppm_below_lsl", 1e-4),
    "obs_above_usl_pct": ("observed_ppm_above_usl", 1e-4),
}


def _cases(name):
    ds = load(name)
    return [(name, case["id"]) for case in ds["capability_cases"]]


def _run(name, case_id):
    ds = load(name)
    case = next(c for c in ds["capability_cases"] if c["id"] == case_id)
    subgroups = [ds["data"][i] for i in ds["phase_I_rows"]]
    fit = E.xbar_r_limits(subgroups)
    cap = E.capability(
        np.ravel(subgroups),
        usl=case["usl"],
        lsl=case["lsl"],
        target=case["target"],
        sigma_within=fit.sigma,
    )
    return ds, cap


@pytest.mark.parametrize(
    ("name", "case_id"), _cases("pistonrings_capability") + _cases("qcc_unittest_capability")
)
def test_capability_reference(name, case_id):
    """pistonrings: Montgomery (1991) ISQC 2nd ed. pp. 206-213 (piston rings, 25 × 5), σ within =
    R̄/d2(5); published: qcc 3.0 vignette processCapability (Cp, Cp_l, Cp_u, Cp_k, Cpm to 3
    decimals, observed/expected % to 2 significant digits). qcc_unittest: the qcc development
    repository's capability unit test (3 × 4 values, two- and one-sided specifications;
    Cp/Pp family published to 6 decimals with qcc's d2(4) = 2.059)."""
    ds, cap = _run(name, case_id)
    prefix = case_id + "."
    keys = [k for k in ds["expected"] if k.startswith(prefix) and k[len(prefix) :] in FIELDS]
    assert keys
    for key in keys:
        attr, scale = FIELDS[key[len(case_id) + 1 :]]
        value = getattr(cap, attr)
        check(ds, key, None if value is None else value * scale)
    check(ds, "center", cap.mean)
    check(ds, "sigma_within", cap.sigma_within)
    check(ds, "sigma_overall", cap.sigma_overall)
    check(ds, "n_obs", cap.n)


def test_one_sided_indices_are_none():
    """qcc unit test, USL only / LSL only: the two-sided indices do not exist."""
    _, up = _run("qcc_unittest_capability", "upper_only")
    assert (up.cp, up.cpl, up.cpm, up.pp, up.ppl, up.cpm_overall) == (None,) * 6
    assert up.cpk == up.cpu and up.ppk == up.ppu
    assert up.ppm_below_lsl is None and up.ppm_total == up.ppm_above_usl
    _, lo = _run("qcc_unittest_capability", "lower_only")
    assert (lo.cp, lo.cpu, lo.cpm, lo.pp, lo.ppu) == (None,) * 5
    assert lo.cpk == lo.cpl and lo.ppk == lo.ppl
    assert lo.ppm_above_usl is None and lo.ppm_total == lo.ppm_below_lsl


def test_target_defaults_to_midpoint():
    _, cap = _run("pistonrings_capability", "spec_73.95_74.05_t74")
    values = np.ravel([load("pistonrings_capability")["data"][i] for i in range(25)])
    cap2 = E.capability(values, usl=74.05, lsl=73.95, sigma_within=cap.sigma_within)
    assert cap2.target == pytest.approx(74.0)
    assert cap2.cpm == pytest.approx(cap.cpm, rel=1e-12)


def test_cpk_confidence_interval_bissell():
    _, cap = _run("pistonrings_capability", "spec_73.95_74.05_t74")
    n = cap.n
    half = 1.96 * math.sqrt(1 / (9 * n) + cap.cpk**2 / (2 * (n - 1)))
    assert cap.cpk_ci95 == pytest.approx((cap.cpk - half, cap.cpk + half), rel=1e-12)
    assert cap.cpk_ci95[0] < cap.cpk < cap.cpk_ci95[1]


def test_expected_ppm_both_sigmas():
    _, cap = _run("pistonrings_capability", "spec_73.99_74.01_t74")
    assert cap.ppm_total == pytest.approx(cap.ppm_below_lsl + cap.ppm_above_usl)
    below = 1e6 * stats.norm.cdf(73.99, cap.mean, cap.sigma_overall)
    above = 1e6 * stats.norm.sf(74.01, cap.mean, cap.sigma_overall)
    assert cap.ppm_below_lsl_overall == pytest.approx(below, rel=1e-10)
    assert cap.ppm_above_usl_overall == pytest.approx(above, rel=1e-10)
    assert cap.observed_ppm_total == pytest.approx(280_000)  # 12 % + 16 % published


def test_without_sigma_within_uses_overall_and_says_so():
    values = np.ravel(load("pistonrings_capability")["data"][:25])
    cap = E.capability(values, usl=74.05, lsl=73.95)
    assert cap.sigma_within_source == "overall"
    assert cap.sigma_within == cap.sigma_overall
    assert cap.cp == cap.pp and cap.cpk == cap.ppk
    assert any("σ within not supplied" in w for w in cap.warnings)


def test_anderson_darling_statistic_matches_scipy():
    values = np.ravel(load("pistonrings_capability")["data"][:25])
    a2, a_star, p = E.anderson_darling(values)
    assert a2 == pytest.approx(
        stats.anderson(values, dist="norm").statistic
        if _old_scipy()
        else stats.anderson(values, dist="norm", method="interpolate").statistic,
        rel=1e-10,
    )
    n = values.size
    assert a_star == pytest.approx(a2 * (1 + 0.75 / n + 2.25 / n**2))
    assert 0.05 < p <= 1
    cap = E.capability(values, usl=74.05, lsl=73.95)
    assert cap.normal is True and cap.anderson_darling_p == p


def _old_scipy():
    import inspect

    return "method" not in inspect.signature(stats.anderson).parameters


def test_anderson_darling_p_value_formula_pieces():
    """D'Agostino & Stephens (1986) piecewise p-value (as nortest::ad.test)."""
    from spc.engine.capability import _ad_pvalue

    for a in (0.1, 0.25, 0.5, 0.8, 3.0):
        if a >= 0.6:
            expected = math.exp(1.2937 - 5.709 * a + 0.0186 * a * a)
        elif a >= 0.34:
            expected = math.exp(0.9177 - 4.279 * a - 1.38 * a * a)
        elif a >= 0.2:
            expected = 1 - math.exp(-8.318 + 42.796 * a - 59.938 * a * a)
        else:
            expected = 1 - math.exp(-13.436 + 101.14 * a - 223.73 * a * a)
        assert _ad_pvalue(a) == pytest.approx(expected, rel=1e-14)
    assert _ad_pvalue(12.0) == 3.7e-24
    # monotone decreasing in A*, and close to continuous at the breakpoints
    grid = np.linspace(0.01, 9.99, 2000)
    p = np.array([_ad_pvalue(a) for a in grid])
    assert (np.diff(p) <= 1e-3).all()
    for b in (0.2, 0.34, 0.6):
        assert abs(_ad_pvalue(b - 1e-9) - _ad_pvalue(b)) < 0.01


def test_non_normal_data_warns():
    rng = np.random.default_rng(7)
    values = rng.exponential(size=200)
    cap = E.capability(values, usl=6.0, lsl=0.0)
    assert cap.normal is False
    assert cap.anderson_darling_p < 0.05
    assert any("Anderson–Darling" in w for w in cap.warnings)


def test_small_sample_normality_not_assessed():
    cap = E.capability([1.0, 2.0, 4.0], usl=10.0, lsl=0.0)
    assert cap.normal is None and cap.anderson_darling is None
    assert any("normality not assessed" in w for w in cap.warnings)


def test_accepts_subgroups_and_flattens():
    data = load("qcc_unittest_capability")["data"]
    assert E.capability(data, usl=10.1, lsl=9.9).n == 12


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"values": [1.0]}, E.InsufficientDataError, "at least 2 values"),
        ({"values": [2.0, 2.0, 2.0]}, E.ZeroVariationError, "all 3 values are equal"),
        ({"values": [1.0, float("nan"), 3.0]}, E.NonFiniteValueError, "value 1 is NaN"),
        ({"values": [1.0, 2.0], "usl": 1.0, "lsl": 2.0}, E.SpecificationError, "USL"),
        ({"values": [1.0, 2.0], "usl": 1.0, "lsl": 1.0}, E.SpecificationError, "USL"),
        ({"values": [1.0, 2.0], "usl": float("inf")}, E.NonFiniteValueError, "USL"),
        (
            {"values": [1.0, 2.0], "usl": 3.0, "sigma_within": 0.0},
            E.ZeroVariationError,
            "sigma_within",
        ),
        (
            {"values": [1.0, 2.0], "usl": 3.0, "sigma_within": -1.0},
            E.ParameterError,
            "sigma_within",
        ),
    ],
)
def test_capability_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        E.capability(**kwargs)
