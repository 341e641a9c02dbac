"""X̄ limits from stored subgroup statistics equal the limits from the raw values."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spc import engine as E


def _stats(subgroups, kind):
    means = [float(np.mean(g)) for g in subgroups]
    spreads = [float(np.ptp(g)) if kind == "r" else float(np.std(g, ddof=1)) for g in subgroups]
    return means, spreads, [len(g) for g in subgroups]


@st.composite
def subgroup_sets(draw):
    k = draw(st.integers(2, 30))
    variable = draw(st.booleans())
    n0 = draw(st.integers(2, 10))
    sizes = [draw(st.integers(2, 10)) if variable else n0 for _ in range(k)]
    values = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
    groups = [draw(st.lists(values, min_size=n, max_size=n)) for n in sizes]
    excluded = draw(st.lists(st.booleans(), min_size=k, max_size=k))
    return groups, excluded


@settings(max_examples=200, deadline=None)
@given(data=subgroup_sets(), kind=st.sampled_from(["r", "s"]))
def test_limits_from_statistics_equal_limits_from_raw_values(data, kind):
    groups, excluded = data
    raw_fit = E.xbar_r_limits if kind == "r" else E.xbar_s_limits
    try:
        expected = raw_fit(groups, excluded=excluded)
    except E.EngineError as exc:
        with pytest.raises(type(exc)):
            E.xbar_limits_from_statistics(*_stats(groups, kind), kind=kind, excluded=excluded)
        return
    got = E.xbar_limits_from_statistics(*_stats(groups, kind), kind=kind, excluded=excluded)
    assert got.sigma == pytest.approx(expected.sigma, rel=1e-9)
    for field in ("center", "ucl", "lcl"):
        np.testing.assert_allclose(getattr(got.primary, field), getattr(expected.primary, field),
                                   rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(getattr(got.secondary, field),
                                   getattr(expected.secondary, field), rtol=1e-9, atol=1e-9)
    assert got.excluded_indices == expected.excluded_indices


def test_piston_rings_from_statistics_match_the_published_limits():
    """Montgomery's piston rings (25 subgroups of 5), as in test_reference_limits: the same
    published X̄-R values from the subgroups' means and ranges alone."""
    from ._reference import check, load

    ds = load("pistonrings_xbar_r")
    groups = [ds["data"][i] for i in ds["phase_I_rows"]]
    fit = E.xbar_limits_from_statistics(*_stats(groups, "r"), kind="r")
    check(ds, "sigma", fit.sigma)
    check(ds, "xbar.ucl", fit.primary.ucl)
    check(ds, "r.ucl", fit.secondary.ucl)


@pytest.mark.parametrize("args, error, text", [
    (([1.0], [0.5], [5]), E.InsufficientDataError, "at least 2"),
    (([1.0, 2.0], [0.5, 0.4], [5, 1]), E.SubgroupSizeError, "subgroup 1 has size 1"),
    (([1.0, float("nan")], [0.5, 0.4], [5, 5]), E.NonFiniteValueError, "NaN"),
    (([1.0, 2.0], [0.0, 0.0], [5, 5]), E.ZeroVariationError, "zero range"),
    (([1.0, 2.0], [0.5], [5, 5]), E.ParameterError, "must match"),
])
def test_unusable_statistics_get_a_specific_error(args, error, text):
    with pytest.raises(error, match=text):
        E.xbar_limits_from_statistics(*args)
