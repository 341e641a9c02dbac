"""Binomial and Poisson capability against published values, their defining properties and
bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest import approx
from scipy import stats

from spc import engine as E
from spc.tests.engine import _reference

SETTINGS = settings(max_examples=200, deadline=None)


def _phase_one(name):
    ds = _reference.load(name)
    rows = [ds["data"][i] for i in ds["phase_I_rows"]]
    return ds, [r[0] for r in rows], [r[1] for r in rows]


# --- published values -------------------------------------------------------------------------

def test_the_binomial_interval_is_r_binom_test_published_example():
    """R, `?binom.test` (stats package), Mendel's peas: binom.test(c(682, 243), p = 3/4) prints
    'probability of success 0.7372973', '95 percent confidence interval: 0.7076683 0.7654066'."""
    cap = E.binomial_capability([682], [925])
    assert cap.p == approx(0.7372973, abs=5e-8)
    assert cap.p_ci95 == approx((0.7076683, 0.7654066), abs=5e-8)
    assert cap.percent_defective_ci95 == approx((70.76683, 76.54066), abs=5e-6)


def test_the_poisson_interval_is_r_poisson_test_published_example():
    """R, `?poisson.test`: 137 cases in 24.19893 person-years, poisson.test(137, 24.19893)
    prints 'event rate 5.661407', '95 percent confidence interval: 4.753125 6.692709'."""
    cap = E.poisson_capability([137], [24.19893])
    assert cap.dpu == approx(5.661407, abs=5e-7)
    assert cap.dpu_ci95 == approx((4.753125, 6.692709), abs=5e-7)


def test_orange_juice_cans_fraction_defective_is_montgomerys_p_bar():
    """Montgomery, orange-juice cans, 30 trial samples of 50: p̄ = 0.2313 (qcc prints
    0.2313333) — 347 defectives in 1,500 cans."""
    ds, defectives, sizes = _phase_one("orangejuice_p_trial")
    cap = E.binomial_capability(defectives, sizes)
    assert (cap.samples, cap.defectives, cap.inspected) == (30, 347, 1500)
    _reference.check(ds, "p.center", cap.p)
    assert cap.ppm == approx(1e6 * 347 / 1500)
    assert cap.process_z == approx(stats.norm.isf(347 / 1500))
    assert (cap.min_p, cap.max_p) == (min(d / 50 for d in defectives),
                                      max(d / 50 for d in defectives))


def test_circuit_board_defects_per_sample_are_montgomerys_c_bar():
    """Montgomery, printed-circuit boards, 26 trial samples of 100 boards: c̄ = 19.85 per sample
    (qcc prints 19.84615); per board that is 0.1985 (the same data on a u chart)."""
    ds, defects, boards = _phase_one("circuit_c_trial")
    cap = E.poisson_capability(defects, boards)
    _reference.check(ds, "c.center", cap.mean_defects)
    _reference.check(ds, "u.center", cap.dpu)
    assert cap.units == 2600
    assert cap.mean_defects_ci95 == approx(tuple(x * 100 for x in cap.dpu_ci95))


def test_personal_computers_defects_per_unit_are_montgomerys_u_bar():
    """Montgomery, 20 samples of 5 personal computers: ū = 1.93 defects per computer."""
    ds, defects, units = _phase_one("pcmanufact_u")
    cap = E.poisson_capability(defects, units)
    _reference.check(ds, "u.center", cap.dpu)
    assert cap.yield_percent == approx(100 * math.exp(-1.93))


@pytest.mark.parametrize(("p", "z"), [(0.00135, 3.0), (3.4e-6, 4.5), (0.5, 0.0),
                                      (0.0227501, 2.0)])
def test_process_z_is_the_normal_table(p, z):
    """Standard normal table: Φ(3) = 0.99865, Φ(2) = 0.97725; six-sigma tables: 3.4 ppm
    defective ↔ Z = 4.5 (long-term)."""
    cap = E.binomial_capability([round(p * 10**9)], [10**9])
    assert cap.process_z == approx(z, abs=1e-3)


# --- the definitions of the exact intervals ---------------------------------------------------

@SETTINGS
@given(st.integers(1, 400), st.data())
def test_the_binomial_bounds_leave_two_and_a_half_percent_in_each_tail(n, data):
    d = data.draw(st.integers(0, n))
    lower, upper = E.binomial_capability([d], [n]).p_ci95
    assert 0 <= lower <= d / n <= upper <= 1
    if d > 0:  # P(X ≥ d | p = lower) = 2.5 %
        assert stats.binom.sf(d - 1, n, lower) == approx(0.025, rel=1e-6)
    else:
        assert lower == 0
    if d < n:  # P(X ≤ d | p = upper) = 2.5 %
        assert stats.binom.cdf(d, n, upper) == approx(0.025, rel=1e-6)
    else:
        assert upper == 1


@SETTINGS
@given(st.integers(1, 60), st.floats(0.001, 0.999))
def test_the_binomial_interval_covers_the_true_rate_at_least_95_percent_of_the_time(n, p):
    """Clopper–Pearson is exact-conservative: over every possible count, the intervals that
    contain the true p carry at least 95 % of the probability."""
    covered = sum(stats.binom.pmf(d, n, p) for d in range(n + 1)
                  if _between(p, E.binomial_capability([d], [n]).p_ci95))
    assert covered >= 0.95 - 1e-9


@SETTINGS
@given(st.integers(0, 500), st.floats(0.1, 1000))
def test_the_poisson_bounds_leave_two_and_a_half_percent_in_each_tail(defects, units):
    lower, upper = E.poisson_capability([defects], [units]).dpu_ci95
    assert 0 <= lower <= defects / units <= upper
    if defects > 0:  # P(X ≥ D | μ = lower·units) = 2.5 %
        assert stats.poisson.sf(defects - 1, lower * units) == approx(0.025, rel=1e-6)
    assert stats.poisson.cdf(defects, upper * units) == approx(0.025, rel=1e-6)


@SETTINGS
@given(st.floats(0.01, 40))
def test_the_poisson_interval_covers_the_true_rate_at_least_95_percent_of_the_time(mu):
    top = int(mu + 20 * math.sqrt(mu) + 30)  # the tail beyond holds < 1e-12
    covered = sum(stats.poisson.pmf(d, mu) for d in range(top)
                  if _between(mu, E.poisson_capability([d], [1]).dpu_ci95))
    assert covered >= 0.95 - 1e-9


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=30))
def test_capability_depends_on_the_totals_not_on_how_samples_split_them(rows):
    defectives = [d for d, _ in rows]
    sizes = [d + good + 1 for d, good in rows]
    many, one = (E.binomial_capability(defectives, sizes),
                 E.binomial_capability([sum(defectives)], [sum(sizes)]))
    assert (many.p, many.p_ci95, many.process_z) == (one.p, one.p_ci95, one.process_z)
    many, one = (E.poisson_capability(defectives, sizes),
                 E.poisson_capability([sum(defectives)], [sum(sizes)]))
    assert (many.dpu, many.dpu_ci95) == (one.dpu, one.dpu_ci95)


@SETTINGS
@given(st.integers(3, 10_000), st.data())
def test_more_defectives_mean_a_lower_process_z(n, data):
    d = data.draw(st.integers(1, n - 2))
    worse, better = E.binomial_capability([d + 1], [n]), E.binomial_capability([d], [n])
    assert worse.process_z < better.process_z
    low, high = better.process_z_ci95
    assert low <= better.process_z <= high


def _between(x, interval):
    return interval[0] <= x <= interval[1]


# --- the edges and bad input ------------------------------------------------------------------

def test_no_defectives_gives_no_process_z_but_an_upper_bound():
    cap = E.binomial_capability([0, 0, 0], 100)
    assert (cap.p, cap.process_z) == (0.0, None)
    assert cap.p_ci95 == approx((0.0, 1 - 0.025 ** (1 / 300)))  # the rule of three's exact form
    assert cap.process_z_ci95[0] == approx(stats.norm.isf(cap.p_ci95[1]))
    assert cap.process_z_ci95[1] is None
    assert "no defectives" in cap.warnings[0]


def test_every_unit_defective_gives_no_process_z():
    cap = E.binomial_capability([5], [5])
    assert (cap.p, cap.process_z, cap.p_ci95[1]) == (1.0, None, 1.0)
    assert "every unit" in cap.warnings[0]


def test_few_defectives_are_flagged_as_a_rough_estimate():
    assert E.binomial_capability([1, 2], [500, 500]).warnings == (
        "only 3 defectives in 1000 inspected: the estimate is rough — see how wide its interval "
        "is",)
    assert E.binomial_capability([499], [500]).warnings[0].startswith(
        "only 1 good unit in 500 inspected")
    assert E.binomial_capability([10, 12], [500, 500]).warnings == ()


def test_no_defects_gives_dpu_zero_with_an_upper_bound():
    cap = E.poisson_capability([0, 0], [2.5, 2.5])
    assert cap.dpu == 0 and cap.yield_percent == 100
    assert cap.dpu_ci95 == approx((0.0, -math.log(0.025) / 5))
    assert "no defects" in cap.warnings[0]


@pytest.mark.parametrize(("counts", "sizes", "error", "message"), [
    ([], [], E.InsufficientDataError, "at least 1 sample"),
    ([1, 2], [10, 10, 10], E.ParameterError, "2 counts but 3 sample sizes"),
    ([1, float("nan")], [10, 10], E.NonFiniteValueError, "NaN"),
    ([1, -1], [10, 10], E.InvalidCountError, "sample 1 has a negative count"),
    ([1.5], [10], E.InvalidCountError, "not a whole number"),
    ([1], [0], E.InvalidCountError, "sample size of 0"),
    ([1], [2.5], E.InvalidCountError, "sample size that is not a whole number"),
    ([3, 11], [10, 10], E.InvalidCountError,
     "sample 1 has 11 nonconforming items but a sample size of 10"),
    (["a"], [10], E.EngineError, "numbers"),
])
def test_bad_binomial_input_says_what_is_wrong(counts, sizes, error, message):
    with pytest.raises(error, match=message):
        E.binomial_capability(counts, sizes)


def test_poisson_units_may_be_fractional_but_must_be_positive():
    assert E.poisson_capability([3], [0.5]).dpu == 6
    with pytest.raises(E.InvalidCountError, match="inspection unit of -1"):
        E.poisson_capability([3, 1], [1, -1])
    with pytest.raises(E.InvalidCountError, match="not a whole number"):
        E.poisson_capability([0.5], [1])


def test_one_size_serves_every_sample():
    assert E.binomial_capability([1, 2, 3], 50).inspected == 150
    assert E.poisson_capability(np.array([1, 2, 3]), 2.0).units == 6.0
