"""Control limits of every chart type against published reference examples.

Data and published values: spc/tests/reference (see its README.md). Every field is
checked to its published precision (the data set's tolerance, which admits exact or 3-decimal
d2) *and* against the exact recomputation at a relative 1e-9 (this engine uses exact
constants). Sources are cited per test; the published outputs are those of the R package qcc
(3.0 vignette "A quick tour of qcc", luca-scr.github.io/qcc) on Montgomery's data sets.
"""

from __future__ import annotations

import numpy as np
import pytest

from spc import engine as E

from ._reference import check, load, phase_i


def _subgroups(ds):
    return [ds["data"][i] for i in ds["phase_I_rows"]]


# --------------------------------------------------------------------------------------
# X̄-R, X̄-S — piston rings
# --------------------------------------------------------------------------------------


def test_pistonrings_xbar_r():
    """Montgomery (1991) ISQC 2nd ed. pp. 206-213, piston-ring diameters (Table 6.3 in later
    editions), 25 subgroups of 5; published: qcc 3.0 vignette (X̄ and R chart print-outs)."""
    ds = load("pistonrings_xbar_r")
    fit = E.xbar_r_limits(_subgroups(ds))
    assert fit.chart_type == "xbar_r"
    assert fit.primary.method == "X̄-R: σ = R̄/d2(5)"
    check(ds, "sigma", fit.sigma)
    check(ds, "xbar.center", fit.primary.center)
    check(ds, "xbar.lcl", fit.primary.lcl)
    check(ds, "xbar.ucl", fit.primary.ucl)
    check(ds, "r.center", fit.secondary.center)
    check(ds, "r.lcl", fit.secondary.lcl)
    check(ds, "r.ucl", fit.secondary.ucl)


def test_pistonrings_xbar_warning_limits():
    """2σ warning limits, published by qcc 2.7 vignette (limits.xbar(..., 2)); same data."""
    ds = load("pistonrings_xbar_r")
    fit = E.xbar_r_limits(_subgroups(ds), nsigma=2)
    check(ds, "xbar.lcl_2sigma", fit.primary.lcl)
    check(ds, "xbar.ucl_2sigma", fit.primary.ucl)


def test_pistonrings_phase_ii_beyond_limits():
    """Phase II subgroups 26-40 judged against the phase I limits: subgroups 37-39 (1-based)
    plot above the UCL (recomputed list in the data set; Montgomery's example shows the shift)."""
    ds = load("pistonrings_xbar_r")
    fit = E.xbar_r_limits(_subgroups(ds))
    rows = ds["phase_II_rows"]
    means = np.array([np.mean(ds["data"][i]) for i in rows])
    z = fit.primary.z_scores(means, sizes=5)
    flagged = [rows[f.index] for f in E.evaluate_rules(z, rules={1})]
    assert flagged == ds["expected_lists"]["phase_II.xbar_beyond_limits"] == [36, 37, 38]


def test_pistonrings_xbar_s():
    """Same data, X̄ and S charts (σ = S̄/c4(5)); published: qcc 3.0 vignette S-chart print-out
    (center, σ, UCL); X̄ limits from S̄ are recomputed (not printed)."""
    ds = load("pistonrings_xbar_s")
    fit = E.xbar_s_limits(_subgroups(ds))
    assert fit.primary.method == "X̄-S: σ = S̄/c4(5)"
    check(ds, "sigma", fit.sigma)
    check(ds, "xbar.center", fit.primary.center)
    check(ds, "xbar.lcl", fit.primary.lcl)
    check(ds, "xbar.ucl", fit.primary.ucl)
    check(ds, "s.center", fit.secondary.center)
    check(ds, "s.lcl", fit.secondary.lcl)
    check(ds, "s.ucl", fit.secondary.ucl)


# --------------------------------------------------------------------------------------
# EWMA — piston rings and viscosity
# --------------------------------------------------------------------------------------


def test_pistonrings_ewma_phase_i_only():
    """EWMA λ = 0.2, L = 3 on the 25 phase-I subgroup means, center and σ (R̄/d2) estimated from
    the same subgroups; published: qcc 3.0 vignette, limits at points 1, 2 and 25."""
    ds = load("pistonrings_ewma")
    chart = E.ewma_limits(_subgroups(ds), lam=0.2, L=3)
    check(ds, "center", chart.primary.center)
    check(ds, "sigma", chart.sigma)
    for i in (1, 2, 25):
        check(ds, f"L3.lcl[{i}]", chart.primary.lcl[i - 1])
        check(ds, f"L3.ucl[{i}]", chart.primary.ucl[i - 1])


def test_pistonrings_ewma_phase_i_and_ii():
    """EWMA λ = 0.2, L = 2.7 over all 40 subgroups with the phase-I center and σ; published:
    qcc 3.0 vignette, limits at points 1, 2 and 40."""
    ds = load("pistonrings_ewma")
    fit = E.xbar_r_limits(_subgroups(ds))
    means = [float(np.mean(s)) for s in ds["data"]]
    chart = E.ewma_limits(means, lam=0.2, L=2.7, center=fit.primary.center, sigma=fit.sigma, n=5)
    check(ds, "center", chart.primary.center)
    check(ds, "sigma", chart.sigma)
    for i in (1, 2, 40):
        check(ds, f"L2.7.lcl[{i}]", chart.primary.lcl[i - 1])
        check(ds, f"L2.7.ucl[{i}]", chart.primary.ucl[i - 1])
    # the same chart from the subgroups themselves (n taken from them)
    chart2 = E.ewma_limits(ds["data"], lam=0.2, L=2.7, center=fit.primary.center, sigma=fit.sigma)
    np.testing.assert_array_equal(chart2.primary.ucl, chart.primary.ucl)
    np.testing.assert_allclose(chart2.primary_values, chart.primary_values, rtol=0, atol=1e-12)


def test_viscosity_ewma():
    """Montgomery (2005) ISQC 5th ed. pp. 232-235, aircraft-primer viscosity (individuals),
    EWMA λ = 0.2, L = 2.7 over 35 batches with center and σ = MR̄/d2(2) of the 20 phase-I
    batches; published: qcc 3.0 vignette (limits at points 1, 2, 35)."""
    ds = load("viscosity_ewma")
    data = ds["data"]
    fit = E.imr_limits([data[i] for i in ds["phase_I_rows"]])
    chart = E.ewma_limits(data, lam=0.2, L=2.7, center=fit.primary.center, sigma=fit.sigma)
    check(ds, "center", chart.primary.center)
    check(ds, "sigma", chart.sigma)
    for i in (1, 2, 35):
        check(ds, f"L2.7.lcl[{i}]", chart.primary.lcl[i - 1])
        check(ds, f"L2.7.ucl[{i}]", chart.primary.ucl[i - 1])


# --------------------------------------------------------------------------------------
# Individuals — viscosity
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["viscosity_imr_trial", "viscosity_imr_revised"])
def test_viscosity_imr(name):
    """Montgomery (2005) ISQC 5th ed. pp. 232-235, viscosity; published: qcc 3.0 vignette and
    reference page (individuals chart, σ = MR̄/d2(2); trial also with std.dev = "SD"). The
    revised fit drops batch 4 (row 3) through the ``excluded`` mask, before moving ranges."""
    ds = load(name)
    data, mask = phase_i(ds)
    fit = E.imr_limits(data, excluded=mask)
    assert fit.primary.method == "I-MR: σ = MR̄/d2(2)"
    check(ds, "i.center", fit.primary.center)
    check(ds, "sigma", fit.sigma)
    check(ds, "i.lcl", fit.primary.lcl)
    check(ds, "i.ucl", fit.primary.ucl)
    check(ds, "mr.center", fit.secondary.center)
    check(ds, "mr.lcl", fit.secondary.lcl)
    check(ds, "mr.ucl", fit.secondary.ucl)
    sd_fit = E.imr_limits(data, excluded=mask, sigma_method="sd")
    check(ds, "sigma_sd", sd_fit.sigma)
    check(ds, "i.lcl_sd", sd_fit.primary.lcl)
    check(ds, "i.ucl_sd", sd_fit.primary.ucl)


def test_viscosity_trial_flags_batch_4():
    """Batch 4 (row 3, 35.96) is the one point above the trial UCL (qcc's unit test expects
    exactly one violation)."""
    ds = load("viscosity_imr_trial")
    data, mask = phase_i(ds)
    fit = E.imr_limits(data, excluded=mask)
    z = fit.primary.z_scores(fit.primary_values)
    assert [f.index for f in E.evaluate_rules(z, rules={1})] == [3]


# --------------------------------------------------------------------------------------
# p and np — orange juice
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["orangejuice_p_trial", "orangejuice_p_revised", "orangejuice2_p"])
def test_orangejuice_p_np(name):
    """Montgomery (1991) ISQC 2nd ed. pp. 152-155, frozen orange-juice cans, samples of 50
    (Example 7.1 in later editions); published: qcc 3.0 vignette (p and np charts: center,
    standard deviation, LCL, UCL). The revised fit excludes samples 15 and 23 via the mask;
    orangejuice2 (samples after the machine adjustment) has LCL truncated at 0."""
    ds = load(name)
    data, mask = phase_i(ds)
    counts = [r[0] for r in data]
    sizes = [r[1] for r in data]
    p = E.p_limits(counts, sizes, excluded=mask)
    check(ds, "p.center", p.primary.center)
    check(ds, "p.sigma", p.primary.sigma_point)
    check(ds, "p.lcl", p.primary.lcl)
    check(ds, "p.ucl", p.primary.ucl)
    np_ = E.np_limits(counts, 50, excluded=mask)
    check(ds, "np.center", np_.primary.center)
    check(ds, "np.sigma", np_.primary.sigma)
    check(ds, "np.lcl", np_.primary.lcl)
    check(ds, "np.ucl", np_.primary.ucl)


def test_orangejuice_trial_out_of_control_samples():
    """Samples 15 and 23 (1-based) plot above the trial UCL (Montgomery, Example 7.1)."""
    ds = load("orangejuice_p_trial")
    data, mask = phase_i(ds)
    fit = E.p_limits([r[0] for r in data], [r[1] for r in data], excluded=mask)
    z = fit.primary.z_scores(fit.primary_values, sizes=fit.sizes)
    assert [f.index for f in E.evaluate_rules(z, rules={1})] == [14, 22]
    np_fit = E.np_limits([r[0] for r in data], 50)
    z_np = np_fit.primary.z_scores(np_fit.primary_values)
    np.testing.assert_allclose(z_np, z, rtol=1e-12)


# --------------------------------------------------------------------------------------
# c and u — circuit boards, PC manufacturing, dyed cloth
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["circuit_c_trial", "circuit_c_revised"])
def test_circuit_boards_c_and_u(name):
    """Montgomery (1991) ISQC 2nd ed. pp. 173-175, nonconformities on 100 printed circuit
    boards (Example 7.3 / Table 7.7 later); published: qcc 3.0 vignette (c chart; the revised
    fit without samples 6 and 20 also as a u chart per board)."""
    ds = load(name)
    data, mask = phase_i(ds)
    counts = [r[0] for r in data]
    c = E.c_limits(counts, excluded=mask)
    check(ds, "c.center", c.primary.center)
    check(ds, "c.sigma", c.primary.sigma)
    check(ds, "c.lcl", c.primary.lcl)
    check(ds, "c.ucl", c.primary.ucl)
    u = E.u_limits(counts, [r[1] for r in data], excluded=mask)
    check(ds, "u.center", u.primary.center)
    check(ds, "u.sigma", u.primary.sigma)
    check(ds, "u.lcl", u.primary.lcl)
    check(ds, "u.ucl", u.primary.ucl)


def test_circuit_boards_trial_out_of_control_samples():
    """Samples 6 and 20 (1-based) fall outside the trial c-chart limits (Montgomery Ex. 7.3)."""
    ds = load("circuit_c_trial")
    data, _ = phase_i(ds)
    fit = E.c_limits([r[0] for r in data])
    z = fit.primary.z_scores(fit.primary_values)
    assert [f.index for f in E.evaluate_rules(z, rules={1})] == [5, 19]


def test_pcmanufact_u():
    """Montgomery, ISQC, PC-manufacturing u chart (20 samples of 5 computers); published: qcc
    3.0 vignette (center 1.93, standard deviation √ū, LCL, UCL)."""
    ds = load("pcmanufact_u")
    counts = [r[0] for r in ds["data"]]
    units = [r[1] for r in ds["data"]]
    fit = E.u_limits(counts, units)
    assert not fit.primary.per_point
    check(ds, "u.center", fit.primary.center)
    check(ds, "u.sigma", fit.primary.sigma)
    check(ds, "u.lcl", fit.primary.lcl)
    check(ds, "u.ucl", fit.primary.ucl)


def test_dyedcloth_u_variable_units():
    """Montgomery (1991) ISQC 2nd ed. pp. 183-184, dyed cloth, 10 rolls with 8-13 inspection
    units of 50 m²: per-roll limits. Only ū is published-derived (qcc describe(): 153/107.5);
    per-roll limits are recomputed (no stored copy of Montgomery's 2-decimal table)."""
    ds = load("dyedcloth_u")
    counts = [r[0] for r in ds["data"]]
    units = [r[1] for r in ds["data"]]
    fit = E.u_limits(counts, units)
    assert fit.primary.per_point
    check(ds, "u.center", fit.primary.center)
    assert fit.primary.center == pytest.approx(
        ds["published_derived"]["u.center"]["value"], rel=1e-12
    )
    check(ds, "u.sigma", fit.primary.sigma)
    for i in range(10):
        check(ds, f"u.lcl[{i}]", fit.primary.lcl[i])
        check(ds, f"u.ucl[{i}]", fit.primary.ucl[i])


# --------------------------------------------------------------------------------------
# Tabular CUSUM — Montgomery Example 9.1
# --------------------------------------------------------------------------------------

# Montgomery, D.C., Introduction to Statistical Quality Control, 6th ed. (2009), Example 9.1,
# Table 9.1 (30 observations: 20 from N(10, 1), then 10 after a shift to mean 11) and
# Table 9.2 (tabular CUSUM, μ0 = 10, σ = 1, k = 0.5, h = 5). The upper sums below are the
# published C⁺ for periods 1-29 (2 decimals); the chart signals at period 29 with N⁺ = 7,
# so the shift is dated after period 22; Montgomery's table keeps accumulating (C⁺30 = 5.30).
MONTGOMERY_9_1 = [
    9.45,
    7.99,
    9.29,
    11.66,
    12.16,
    10.18,
    8.04,
    11.46,
    9.20,
    10.34,
    9.03,
    11.47,
    10.51,
    9.40,
    10.08,
    9.37,
    10.62,
    10.31,
    8.52,
    10.84,
    10.90,
    9.33,
    12.29,
    11.50,
    10.60,
    11.08,
    10.38,
    11.62,
    11.31,
    10.52,
]
MONTGOMERY_9_2_UPPER = [
    0.0,
    0.0,
    0.0,
    1.16,
    2.82,
    2.50,
    0.04,
    1.00,
    0.0,
    0.0,
    0.0,
    0.97,
    0.98,
    0.0,
    0.0,
    0.0,
    0.12,
    0.0,
    0.0,
    0.34,
    0.74,
    0.0,
    1.79,
    2.79,
    2.89,
    3.47,
    3.35,
    4.47,
    5.28,
]


def test_montgomery_tabular_cusum():
    res = E.cusum(MONTGOMERY_9_1, k=0.5, h=5, target=10, sigma=1)
    assert np.round(res.upper[:29], 2).tolist() == MONTGOMERY_9_2_UPPER
    assert round(float(res.upper[29]), 2) == 5.30
    assert (res.K, res.H) == (0.5, 5.0)
    assert res.signals_upper.tolist() == [28, 29]  # periods 29 and 30
    assert res.signals_lower.size == 0
    assert int(res.upper_run[28]) == 7
    first = E.cusum_signals(res)[0]
    assert (first.rule, first.index) == (1, 28)
    assert first.points == tuple(range(22, 29))  # periods 23..29: shift after period 22
