"""The EWMA and CUSUM over a whole series give, bit for bit, what the step functions give one
point at a time (which is what a sample recorded alone carries)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spc import engine


def _bits(a) -> np.ndarray:
    return np.asarray(a, dtype=float).view(np.int64)


def _ewma_stepwise(start, values, lam):
    out, e = [], start
    for v in values:
        e = engine.ewma_step(e, v, lam)
        out.append(e)
    return out


def _cusum_stepwise(up, lo, up_run, lo_run, values, target, allowance):
    out = []
    for v in values:
        up, lo = engine.cusum_step(up, lo, v, target, allowance)
        up_run = up_run + 1 if up > 0.0 else 0
        lo_run = lo_run + 1 if lo > 0.0 else 0
        out.append((up, lo, up_run, lo_run))
    return [list(c) for c in zip(*out, strict=True)]


@pytest.mark.parametrize("lam", [0.05, 0.1, 0.2, 0.3333, 0.9, 1.0])
def test_the_ewma_of_a_long_series_is_the_step_recursion_bit_for_bit(lam):
    rng = np.random.default_rng(int(lam * 1000))
    values = np.round(rng.normal(10.0, 0.05, 100_000), 4)
    got = engine.ewma_series(10.0, values, lam)
    assert np.array_equal(_bits(got), _bits(_ewma_stepwise(10.0, values.tolist(), lam)))


def test_the_ewma_continues_from_any_point_as_if_never_interrupted():
    values = np.random.default_rng(3).normal(0.0, 1.0, 1000)
    whole = engine.ewma_series(0.25, values, 0.2)
    first = engine.ewma_series(0.25, values[:400], 0.2)
    rest = engine.ewma_series(float(first[-1]), values[400:], 0.2)
    one = [engine.ewma_series(float(whole[i - 1]), values[i:i + 1], 0.2)[0]
           for i in range(400, 410)]
    assert np.array_equal(_bits(whole), _bits(np.concatenate([first, rest])))
    assert np.array_equal(_bits(whole[400:410]), _bits(one))
    assert engine.ewma_series(1.0, np.empty(0), 0.2).size == 0


@pytest.mark.parametrize(("k", "shift"), [(0.5, 0.0), (0.5, 0.8), (0.0, 0.0), (1.5, -2.0)])
def test_the_cusum_of_a_long_series_is_the_step_recursion_bit_for_bit(k, shift):
    rng = np.random.default_rng(11)
    values = np.round(rng.normal(10.0 + shift * 0.05, 0.05, 50_000), 4)
    allowance = k * 0.05
    got = engine.cusum_series(0.01, 0.0, 3, 0, values, 10.0, allowance)
    want = _cusum_stepwise(0.01, 0.0, 3, 0, values.tolist(), 10.0, allowance)
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(_bits(g), _bits(w))


def test_a_cusum_with_a_target_and_allowance_per_point_matches_the_steps():
    rng = np.random.default_rng(5)
    values = rng.normal(0.0, 1.0, 2000)
    target = rng.normal(0.0, 0.1, 2000)
    allowance = np.abs(rng.normal(0.5, 0.1, 2000))
    got = engine.cusum_series(0.0, 0.0, 0, 0, values, target, allowance)
    up, lo, up_run, lo_run = 0.0, 0.0, 0, 0
    for i, v in enumerate(values.tolist()):
        up, lo = engine.cusum_step(up, lo, v, float(target[i]), float(allowance[i]))
        up_run = up_run + 1 if up > 0.0 else 0
        lo_run = lo_run + 1 if lo > 0.0 else 0
        assert (got[0][i], got[1][i], got[2][i], got[3][i]) == (up, lo, up_run, lo_run)


def test_a_clamped_sum_treats_nan_and_negative_zero_as_the_step_function_does():
    got = engine.clamped_sums(1.0, np.array([-1.0, math.nan, 2.0, -3.0, 0.5]))
    assert got.tolist() == [0.0, 0.0, 2.0, 0.0, 0.5]
    assert not np.signbit(got[0])  # max(0.0, -0.0) is +0.0
    assert engine.run_lengths(4, np.array([True, True, False, True])).tolist() == [5, 6, 0, 1]
    assert engine.run_lengths(4, np.array([], dtype=bool)).size == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60),
       st.floats(0.01, 1.0), st.floats(-1e3, 1e3))
def test_any_series_gives_the_steps_values(values, lam, start):
    assert np.array_equal(_bits(engine.ewma_series(start, np.array(values), lam)),
                          _bits(_ewma_stepwise(start, values, lam)))
    got = engine.cusum_series(abs(start), 0.0, 0, 0, np.array(values), 1.5, lam)
    want = _cusum_stepwise(abs(start), 0.0, 0, 0, values, 1.5, lam)
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(_bits(g), _bits(w))
