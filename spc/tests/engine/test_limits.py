"""Limits: variable subgroup sizes, Phase II z-scores, standard-given limits, dispatcher,
EWMA and CUSUM details (the published examples are in test_reference_limits.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spc import engine as E

from ._reference import load

RNG = np.random.default_rng(20240601)


def ragged(sizes, loc=10.0, scale=2.0):
    return [list(RNG.normal(loc, scale, n)) for n in sizes]


# --------------------------------------------------------------------------------------
# X̄-R / X̄-S with variable n
# --------------------------------------------------------------------------------------


def test_xbar_r_variable_n_pooled_sigma_and_per_point_limits():
    sizes = [5, 3, 7, 5, 4, 6]
    data = ragged(sizes)
    fit = E.xbar_r_limits(data)
    r = np.array([np.ptp(s) for s in data])
    d2 = np.array([E.d2(n) for n in sizes])
    d3 = np.array([E.d3(n) for n in sizes])
    w = d2**2 / d3**2
    sigma = np.sum(w * r / d2) / np.sum(w)
    assert fit.sigma == pytest.approx(sigma, rel=1e-12)
    center = sum(sum(s) for s in data) / sum(sizes)
    assert fit.primary.center == pytest.approx(center, rel=1e-12)
    assert "variable n" in fit.primary.method
    assert isinstance(fit.primary.ucl, np.ndarray) and fit.primary.per_point
    np.testing.assert_allclose(fit.primary.ucl, center + 3 * sigma / np.sqrt(sizes), rtol=1e-12)
    np.testing.assert_allclose(fit.primary.lcl, center - 3 * sigma / np.sqrt(sizes), rtol=1e-12)
    np.testing.assert_allclose(fit.secondary.center, d2 * sigma, rtol=1e-12)
    np.testing.assert_allclose(fit.secondary.ucl, (d2 + 3 * d3) * sigma, rtol=1e-12)
    np.testing.assert_allclose(fit.secondary.lcl, np.maximum(0, (d2 - 3 * d3) * sigma), rtol=1e-12)
    assert fit.sizes.tolist() == sizes
    with pytest.raises(ValueError):
        fit.primary.ucl[0] = 0.0  # read-only


def test_xbar_s_variable_n_pooled_sigma():
    sizes = [2, 9, 4, 4, 12]
    data = ragged(sizes)
    fit = E.xbar_s_limits(data)
    s = np.array([np.std(x, ddof=1) for x in data])
    c4 = np.array([E.c4(n) for n in sizes])
    h = c4**2 / (1 - c4**2)
    assert fit.sigma == pytest.approx(np.sum(h * s / c4) / np.sum(h), rel=1e-12)
    np.testing.assert_allclose(fit.secondary.center, c4 * fit.sigma, rtol=1e-12)
    np.testing.assert_allclose(
        fit.secondary.ucl, (c4 + 3 * np.sqrt(1 - c4**2)) * fit.sigma, rtol=1e-12
    )


def test_variable_n_reduces_to_constant_n_formula():
    data = ragged([4] * 6)
    const = E.xbar_r_limits(np.array(data))
    assert const.sigma == pytest.approx(np.mean([np.ptp(s) for s in data]) / E.d2(4), rel=1e-12)
    assert isinstance(const.primary.ucl, float)
    assert const.primary.ucl == pytest.approx(
        const.primary.center + E.A2(4) * const.secondary.center
    )
    assert const.secondary.ucl == pytest.approx(E.D4(4) * const.secondary.center)
    s_fit = E.xbar_s_limits(data)
    sbar = np.mean([np.std(s, ddof=1) for s in data])
    assert s_fit.primary.ucl == pytest.approx(s_fit.primary.center + E.A3(4) * sbar)
    assert s_fit.secondary.ucl == pytest.approx(E.B4(4) * sbar)


def test_list_and_array_inputs_identical():
    data = ragged([5] * 8)
    a = E.xbar_r_limits(data)
    b = E.xbar_r_limits(np.array(data))
    c = E.xbar_r_limits([tuple(s) for s in data])
    for other in (b, c):
        assert other.primary.ucl == a.primary.ucl and other.sigma == a.sigma


def test_phase_ii_limits_for_new_sizes():
    fit = E.xbar_r_limits(ragged([5] * 10))
    pl = fit.primary.for_sizes([5, 3, 10])
    np.testing.assert_allclose(pl.ucl, fit.primary.center + 3 * fit.sigma / np.sqrt([5, 3, 10]))
    r = fit.secondary.for_sizes([5, 2])
    assert r.lcl.tolist() == [0.0, 0.0]
    assert r.ucl[0] == pytest.approx(fit.secondary.ucl)


def test_z_scores_of_each_statistic():
    sigma, mu = 2.0, 10.0
    cases = {
        "xbar": ([11.0], [4], mu, (11 - mu) / (sigma / 2)),
        "i": ([13.0], None, mu, 1.5),
        "r": ([5.0], [5], None, (5 - E.d2(5) * sigma) / (E.d3(5) * sigma)),
        "s": ([2.5], [6], None, (2.5 - E.c4(6) * sigma) / (sigma * math.sqrt(1 - E.c4(6) ** 2))),
        "mr": ([1.0], None, None, (1 - E.d2(2) * sigma) / (E.d3(2) * sigma)),
        "p": ([0.3], [50], 0.2, (0.3 - 0.2) / math.sqrt(0.2 * 0.8 / 50)),
        "np": ([14.0], None, 10.0, (14 - 10) / sigma),
        "c": ([25.0], None, 16.0, 9 / 4),
        "u": ([2.0], [4.0], 1.0, 1 / math.sqrt(1 / 4)),
    }
    for stat, (values, sizes, center, expected) in cases.items():
        z = E.z_scores(stat, values, sizes, center, sigma)
        assert z[0] == pytest.approx(expected, rel=1e-12), stat
        # the scalar real-time form is bit-identical
        assert (
            E.z_score(stat, values[0], None if sizes is None else sizes[0], center, sigma) == z[0]
        ), stat


def test_limits_z_scores_agree_with_limits():
    """A point on the UCL has z = nsigma for every statistic."""
    fits = [
        E.xbar_r_limits(ragged([5] * 10)).primary,
        E.xbar_r_limits(ragged([5] * 10)).secondary,
        E.xbar_s_limits(ragged([7] * 10)).secondary,
        E.imr_limits(RNG.normal(size=20)).primary,
        E.imr_limits(RNG.normal(size=20)).secondary,
        E.c_limits([3, 5, 4, 7]).primary,
    ]
    for lim in fits:
        sizes = {"xbar": 5, "r": 5, "s": 7}.get(lim.statistic)
        assert lim.z_scores([lim.ucl], sizes)[0] == pytest.approx(3.0, rel=1e-12), lim.statistic
    p = E.p_limits([3, 5, 4, 7], [50, 60, 40, 50]).primary
    np.testing.assert_allclose(p.z_scores(p.ucl, [50, 60, 40, 50]), 3.0, rtol=1e-12)
    u = E.u_limits([3, 5, 4, 7], [1.5, 2, 1, 2.5]).primary
    np.testing.assert_allclose(u.z_scores(u.ucl, [1.5, 2, 1, 2.5]), 3.0, rtol=1e-12)


def test_clipped_lcl_symmetric_sigma():
    """R chart, n = 5: LCL = 0 (clipped); z still uses the symmetric σ_R, so R = 0 gives
    z > -3 and the lower rule-1 signal cannot fire."""
    fit = E.xbar_r_limits(ragged([5] * 10))
    assert fit.secondary.lcl == 0.0
    z = fit.secondary.z_scores([0.0], [5])[0]
    assert -3 < z < 0
    assert z == pytest.approx(-E.d2(5) / E.d3(5))
    assert E.evaluate_rules([z], rules={1}) == []


def test_p_chart_per_point_and_caps():
    fit = E.p_limits([1, 2, 0, 3], [10, 20, 15, 30])
    assert fit.primary.per_point
    assert (np.asarray(fit.primary.lcl) == 0).all()
    pl = E.point_limits("p", [1, 2], center=0.6)
    assert pl.ucl.tolist() == [1.0, 1.0]  # capped at 1
    assert pl.lcl.tolist() == [0.0, 0.0]


def test_np_chart_scalar_size_and_sigma():
    fit = E.np_limits([3, 5, 4, 6], 50)
    pbar = 18 / 200
    assert fit.primary.center == pytest.approx(50 * pbar)
    assert (
        fit.primary.sigma
        == fit.primary.sigma_point
        == pytest.approx(math.sqrt(50 * pbar * (1 - pbar)))
    )
    assert fit.params["n"] == 50 and fit.params["pbar"] == pytest.approx(pbar)


def test_u_chart_constant_units_scalar():
    a = E.u_limits([3, 5, 4, 6], 2.5)
    b = E.u_limits([3, 5, 4, 6], [2.5] * 4)
    assert a.primary.ucl == b.primary.ucl and isinstance(a.primary.ucl, float)


# --------------------------------------------------------------------------------------
# Standard given
# --------------------------------------------------------------------------------------


def test_standard_given_xbar_r():
    lim = E.standard_given_limits("xbar_r", center=74.0, sigma=0.01, n=5)
    assert lim.primary.ucl == pytest.approx(74.0 + E.A(5) * 0.01)
    assert lim.primary.lcl == pytest.approx(74.0 - E.A(5) * 0.01)
    assert lim.secondary.center == pytest.approx(E.d2(5) * 0.01)
    assert lim.secondary.ucl == pytest.approx(E.D2(5) * 0.01)
    assert lim.secondary.lcl == pytest.approx(E.D1(5) * 0.01, abs=1e-15)
    assert "standard given" in lim.primary.method


def test_standard_given_xbar_s_per_point():
    lim = E.standard_given_limits("xbar_s", center=0.0, sigma=1.0, n=[4, 9])
    np.testing.assert_allclose(lim.primary.ucl, [1.5, 1.0])
    np.testing.assert_allclose(lim.secondary.ucl, [E.B6(4), E.B6(9)])
    np.testing.assert_allclose(lim.secondary.lcl, [E.B5(4), E.B5(9)], atol=1e-15)


def test_standard_given_imr_and_attributes():
    imr = E.standard_given_limits("imr", center=5.0, sigma=0.5)
    assert (imr.primary.lcl, imr.primary.ucl) == pytest.approx((3.5, 6.5))
    assert imr.secondary.ucl == pytest.approx(E.D2(2) * 0.5)
    p = E.standard_given_limits("p", center=0.1, n=[100, 400])
    np.testing.assert_allclose(p.primary.ucl, 0.1 + 3 * np.sqrt(0.09 / np.array([100, 400])))
    npc = E.standard_given_limits("np", center=0.1, n=100)
    assert (npc.primary.center, npc.primary.ucl) == pytest.approx((10.0, 19.0))
    c = E.standard_given_limits("c", center=4.0)
    assert (c.primary.lcl, c.primary.ucl) == (0.0, 10.0)
    u = E.standard_given_limits("u", center=2.0, n=8)
    assert u.primary.ucl == pytest.approx(3.5)
    with pytest.raises(E.ParameterError):
        E.standard_given_limits("ewma", center=0.0, sigma=1.0)
    with pytest.raises(E.ParameterError):
        E.standard_given_limits("xbar_r", center=0.0)
    with pytest.raises(E.SubgroupSizeError):
        E.standard_given_limits("xbar_r", center=0.0, sigma=1.0, n=1)


# --------------------------------------------------------------------------------------
# Dispatcher
# --------------------------------------------------------------------------------------


def test_calculate_limits_dispatch():
    data = ragged([5] * 6)
    assert E.calculate_limits("xbar_r", data).sigma == E.xbar_r_limits(data).sigma
    assert E.calculate_limits("xbar_s", data).sigma == E.xbar_s_limits(data).sigma
    x = RNG.normal(size=12)
    assert E.calculate_limits("imr", x).sigma == E.imr_limits(x).sigma
    assert E.calculate_limits("p", [1, 2, 3], sizes=[20, 20, 20]).primary.center == pytest.approx(
        0.1
    )
    assert E.calculate_limits("np", [1, 2, 3], size=20).primary.center == pytest.approx(2.0)
    assert E.calculate_limits("c", [1, 2, 3]).primary.center == 2.0
    assert E.calculate_limits("u", [1, 2, 3], units=2).primary.center == 1.0
    ew = E.calculate_limits("ewma", x, lam=0.2, L=3)
    assert ew.chart_type == "ewma"
    cu = E.calculate_limits("cusum", x, k=0.5, h=4, target=0.0, sigma=1.0)
    assert cu.chart_type == "cusum"
    with pytest.raises(E.ParameterError, match="unknown chart type"):
        E.calculate_limits("xbar", data)
    with pytest.raises(E.ParameterError, match="invalid parameters"):
        E.calculate_limits("p", [1, 2], size=[10, 10])
    with pytest.raises(E.ParameterError, match="invalid parameters"):
        E.calculate_limits("ewma", x, lam=0.2)


# --------------------------------------------------------------------------------------
# EWMA
# --------------------------------------------------------------------------------------


def test_ewma_statistic_and_step():
    x = [10.5, 9.0, 11.0, 12.0]
    chart = E.ewma_limits(x, lam=0.1, L=2.7, center=10.0, sigma=1.0)
    e = 10.0
    for j, v in enumerate(x):
        e = E.ewma_step(e, v, 0.1)
        assert chart.primary_values[j] == e  # bit-identical streaming update
    assert chart.primary_values[0] == pytest.approx(10.05)
    i = np.arange(1, 5)
    sd = np.sqrt(0.1 / 1.9 * (1 - 0.9 ** (2 * i)))
    np.testing.assert_allclose(chart.primary.sigma_point, sd, rtol=1e-12)
    np.testing.assert_allclose(chart.primary.ucl, 10 + 2.7 * sd, rtol=1e-12)
    assert chart.params == {"lam": 0.1, "L": 2.7, "n": 1.0}
    # limits widen towards the asymptote L σ √(λ/(2-λ))
    long = E.ewma_limits(np.zeros(200), lam=0.1, L=2.7, center=0.0, sigma=1.0)
    assert long.primary.ucl[-1] == pytest.approx(2.7 * math.sqrt(0.1 / 1.9))
    assert (np.diff(long.primary.ucl) >= 0).all()


def test_ewma_signals_and_z():
    x = [0.0] * 5 + [3.0] * 5
    chart = E.ewma_limits(x, lam=0.2, L=3.0, center=0.0, sigma=1.0)
    sig = E.ewma_signals(chart)
    assert sig and all(f.rule == 1 and f.points == (f.index,) for f in sig)
    z = chart.primary.z_scores(chart.primary_values)
    assert [f.index for f in E.evaluate_rules(z, rules={1})] == [f.index for f in sig]
    with pytest.raises(E.ParameterError):
        E.ewma_signals(E.imr_limits(x + [1.0]))


def test_ewma_needs_sigma_for_subgroup_means():
    with pytest.raises(E.ParameterError, match="sigma is required"):
        E.ewma_limits([1.0, 2.0, 3.0], lam=0.2, L=3, n=5)


@pytest.mark.parametrize("lam", [0, -0.1, 1.5, float("nan")])
def test_ewma_bad_lambda(lam):
    with pytest.raises(E.ParameterError):
        E.ewma_limits([1.0, 2.0, 3.0], lam=lam, L=3)


def test_ewma_variable_subgroups_rejected():
    with pytest.raises(E.SubgroupSizeError, match="constant subgroup size"):
        E.ewma_limits(ragged([5, 4, 5]), lam=0.2, L=3)


# --------------------------------------------------------------------------------------
# CUSUM
# --------------------------------------------------------------------------------------


def test_cusum_step_matches_series_and_lower_side():
    x = [10.0, 8.0, 8.5, 7.0, 9.0, 6.0, 8.0, 7.5]
    res = E.cusum(x, k=0.5, h=4, target=10.0, sigma=1.0)
    up = lo = 0.0
    for j, v in enumerate(x):
        up, lo = E.cusum_step(up, lo, v, 10.0, 0.5)
        assert (res.upper[j], res.lower[j]) == (up, lo)
    assert res.signals_lower.tolist() == [3, 4, 5, 6, 7]
    f = E.cusum_signals(res)[0]
    assert f.index == 3 and f.points == (1, 2, 3)
    assert res.signals.tolist() == [3, 4, 5, 6, 7]


def test_cusum_subgroup_means_and_headstart():
    x = [0.0, 0.0, 0.0]
    res = E.cusum(x, k=0.5, h=5, target=0.0, sigma=2.0, n=4, headstart=2.5)
    assert res.sigma_point == 1.0 and res.K == 0.5 and res.H == 5.0
    assert res.upper.tolist() == [2.0, 1.5, 1.0]


def test_cusum_estimates_from_subgroups():
    ds = load("pistonrings_xbar_r")
    sub = ds["data"][:25]
    res = E.cusum(sub, k=0.5, h=5)
    fit = E.xbar_r_limits(sub)
    assert res.sigma == fit.sigma and res.n == 5
    assert res.target == pytest.approx(fit.primary.center)
