"""Property-based tests (hypothesis, 200 examples each).

* incremental == vectorised rule evaluation, on random series with random rule sets;
* limits are equivariant under shifting and positive scaling of the data;
* excluded points change nothing (and may hold anything, even NaN).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from spc import engine as E

SETTINGS = settings(max_examples=200, deadline=None)

# ---------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------

# z-values on and around every boundary the rules use (0, ±1, ±2, ±3) and ties
GRID = [-3.5, -3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
OUTSIDE = [-3.5, -2.5, -2.0, -1.5, -1.01, 1.01, 1.5, 2.0, 2.5, 3.5]
finite = st.floats(-6, 6, allow_nan=False, allow_infinity=False)


@st.composite
def z_series(draw):
    """Series built from chunks that provoke every rule: runs inside/outside 1σ, monotone
    stretches, alternation, repeated values (ties), grid points and arbitrary floats."""
    out: list[float] = []
    for kind in draw(
        st.lists(
            st.sampled_from(
                ["grid", "inside", "outside", "up", "down", "alt", "const", "float", "side"]
            ),
            max_size=8,
        )
    ):
        k = draw(st.integers(1, 20))
        if kind == "grid":
            out += draw(st.lists(st.sampled_from(GRID), min_size=k, max_size=k))
        elif kind == "inside":
            out += draw(st.lists(st.floats(-0.999, 0.999), min_size=k, max_size=k))
        elif kind == "outside":
            out += draw(st.lists(st.sampled_from(OUTSIDE), min_size=k, max_size=k))
        elif kind in ("up", "down"):
            start = draw(st.floats(-4, 4))
            step = draw(st.sampled_from([0.01, 0.25, 0.5, 1.0])) * (1 if kind == "up" else -1)
            out += [start + i * step for i in range(k)]
        elif kind == "alt":
            base = draw(st.sampled_from([-1.5, 0.0, 0.5, 2.1]))
            amp = draw(st.sampled_from([0.3, 1.0, 1.2, 2.2]))
            out += [base + amp * (-1) ** i for i in range(k)]
        elif kind == "const":
            out += [draw(st.sampled_from(GRID))] * k
        elif kind == "side":
            sign = draw(st.sampled_from([-1.0, 1.0]))
            out += [sign * v for v in draw(st.lists(st.floats(0.01, 2.9), min_size=k, max_size=k))]
        else:
            out += draw(st.lists(finite, min_size=k, max_size=k))
    return out


rule_sets = st.sets(st.integers(1, 8))


def measurements(k_min=2, k_max=10, n_min=2, n_max=7, ragged=False):
    value = st.integers(-5000, 5000).map(lambda v: v / 100.0)

    @st.composite
    def build(draw):
        k = draw(st.integers(k_min, k_max))
        if ragged:
            sizes = draw(st.lists(st.integers(n_min, n_max), min_size=k, max_size=k))
        else:
            sizes = [draw(st.integers(n_min, n_max))] * k
        return [draw(st.lists(value, min_size=n, max_size=n)) for n in sizes]

    return build()


def outcome(fn):
    try:
        return fn()
    except E.EngineError as exc:
        return type(exc)


def same(a, b):
    """Exact equality of floats / arrays (NaN-free)."""
    if a is None or b is None:
        return a is b
    return np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float))


def assert_same_limits(a, b):
    for la, lb in ((a.primary, b.primary), (a.secondary, b.secondary)):
        if la is None:
            assert lb is None
            continue
        for f in ("center", "ucl", "lcl", "sigma", "sigma_point"):
            assert same(getattr(la, f), getattr(lb, f)), f
        assert la.method == lb.method and la.statistic == lb.statistic
    assert same(a.primary_values, b.primary_values)
    assert same(a.secondary_values, b.secondary_values)


def close(actual, expected, scale):
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    tol = 1e-9 * np.abs(expected) + 1e-10 * scale
    assert (np.abs(actual - expected) <= tol).all(), (actual, expected)


# ---------------------------------------------------------------------------------------
# Rules: incremental == vectorised
# ---------------------------------------------------------------------------------------


@SETTINGS
@given(z=z_series(), rules=rule_sets)
def test_incremental_equals_vectorised(z, rules):
    vectorised = E.evaluate_rules(z, rules)
    incremental = []
    for i in range(len(z)):
        lo = max(0, i - E.WINDOW + 1)
        incremental += E.evaluate_latest(z[lo : i + 1], rules, offset=lo)
    assert incremental == vectorised
    window = E.RuleWindow(rules)
    assert [f for v in z for f in window.push(v)] == vectorised
    arrays = E.evaluate_rules_arrays(z, rules)
    assert set(arrays) == set(rules)
    for r, idx in arrays.items():
        assert idx.tolist() == [f.index for f in vectorised if f.rule == r]
    for f in vectorised:
        assert f.points[-1] == f.index and list(f.points) == sorted(set(f.points))


@SETTINGS
@given(z=z_series(), start=st.integers(0, 10_000))
def test_incremental_with_offset_and_full_history(z, start):
    """Passing more than WINDOW values, or restoring a RuleWindow mid-series, changes nothing."""
    vectorised = [
        (f.rule, f.index + start, tuple(p + start for p in f.points)) for f in E.evaluate_rules(z)
    ]
    got = []
    for i in range(len(z)):
        got += [(f.rule, f.index, f.points) for f in E.evaluate_latest(z[: i + 1], offset=start)]
    assert got == vectorised
    cut = len(z) // 2
    window = E.RuleWindow(history=z[:cut], next_index=start + cut)
    tail = [(f.rule, f.index, f.points) for v in z[cut:] for f in window.push(v)]
    assert tail == [t for t in vectorised if t[1] >= start + cut]


# ---------------------------------------------------------------------------------------
# Equivariance under x → a·x + b (a > 0)
# ---------------------------------------------------------------------------------------

scale_a = st.floats(1e-3, 1e3)
shift_b = st.floats(-1e5, 1e5)


@SETTINGS
@given(
    data=measurements(ragged=True), a=scale_a, b=shift_b, kind=st.sampled_from(["xbar_r", "xbar_s"])
)
def test_subgroup_limits_equivariant(data, a, b, kind):
    fn = E.xbar_r_limits if kind == "xbar_r" else E.xbar_s_limits
    base = outcome(lambda: fn(data))
    assume(not isinstance(base, type))
    moved = [[a * v + b for v in s] for s in data]
    fit = fn(moved)
    scale = max(abs(v) for s in moved for v in s) + a * base.sigma
    close(fit.sigma, a * base.sigma, scale)
    close(fit.primary.center, a * base.primary.center + b, scale)
    close(fit.primary.ucl, a * np.asarray(base.primary.ucl) + b, scale)
    close(fit.primary.lcl, a * np.asarray(base.primary.lcl) + b, scale)
    for f in ("center", "ucl", "lcl", "sigma_point"):
        close(getattr(fit.secondary, f), a * np.asarray(getattr(base.secondary, f)), scale)
    # z-scores of the data are unchanged
    sizes = [len(s) for s in data]
    z0 = base.primary.z_scores([np.mean(s) for s in data], sizes)
    z1 = fit.primary.z_scores([np.mean(s) for s in moved], sizes)
    assert np.allclose(z1, z0, rtol=1e-6, atol=1e-6 * scale / (a * base.sigma))


@SETTINGS
@given(
    x=st.lists(st.integers(-5000, 5000).map(lambda v: v / 100.0), min_size=2, max_size=40),
    a=scale_a,
    b=shift_b,
    lam=st.sampled_from([0.05, 0.2, 0.5, 1.0]),
)
def test_individuals_ewma_cusum_equivariant(x, a, b, lam):
    base = outcome(lambda: E.imr_limits(x))
    assume(not isinstance(base, type))
    moved = [a * v + b for v in x]
    scale = max(abs(v) for v in moved) + a * base.sigma
    fit = E.imr_limits(moved)
    close(fit.sigma, a * base.sigma, scale)
    for f in ("center", "ucl", "lcl"):
        close(getattr(fit.primary, f), a * getattr(base.primary, f) + b, scale)
        close(getattr(fit.secondary, f), a * getattr(base.secondary, f), scale)
    ew0 = E.ewma_limits(x, lam=lam, L=3)
    ew1 = E.ewma_limits(moved, lam=lam, L=3)
    close(ew1.primary_values, a * ew0.primary_values + b, scale)
    close(ew1.primary.ucl, a * ew0.primary.ucl + b, scale)
    close(ew1.primary.lcl, a * ew0.primary.lcl + b, scale)
    cu0 = E.cusum(x, k=0.5, h=5)
    cu1 = E.cusum(moved, k=0.5, h=5)
    close(cu1.upper, a * cu0.upper, scale * len(x))
    close(cu1.lower, a * cu0.lower, scale * len(x))
    close(cu1.H, a * cu0.H, scale)


# ---------------------------------------------------------------------------------------
# Excluded points change nothing
# ---------------------------------------------------------------------------------------


def masks(k):
    return st.lists(st.booleans(), min_size=k, max_size=k)


@SETTINGS
@given(
    data=st.data(),
    ragged=st.booleans(),
    kind=st.sampled_from(["xbar_r", "xbar_s", "ewma", "cusum"]),
)
def test_excluded_subgroups_change_nothing(data, ragged, kind):
    subgroups = data.draw(measurements(k_max=12, ragged=ragged and kind.startswith("xbar")))
    mask = data.draw(masks(len(subgroups)))
    kept = [s for s, m in zip(subgroups, mask, strict=True) if not m]
    garbage = [[math.nan] * (len(s) + 1) if m else s for s, m in zip(subgroups, mask, strict=True)]
    fns = {
        "xbar_r": E.xbar_r_limits,
        "xbar_s": E.xbar_s_limits,
        "ewma": lambda d, excluded=None: E.ewma_limits(d, lam=0.3, L=2.8, excluded=excluded),
        "cusum": lambda d, excluded=None: E.cusum(d, k=0.5, h=4, excluded=excluded),
    }
    fn = fns[kind]
    a = outcome(lambda: fn(subgroups, excluded=mask))
    b = outcome(lambda: fn(kept))
    c = outcome(lambda: fn(garbage, excluded=mask))
    if isinstance(b, type):
        assert a is b and c is b
        return
    for r in (a, c):
        assert r.excluded_indices == tuple(i for i, m in enumerate(mask) if m)
        assert r.included_indices.tolist() == [i for i, m in enumerate(mask) if not m]
        if kind == "cusum":
            assert same(r.upper, b.upper) and same(r.lower, b.lower)
            assert (r.target, r.sigma, r.K, r.H) == (b.target, b.sigma, b.K, b.H)
        else:
            assert_same_limits(r, b)


@SETTINGS
@given(data=st.data(), kind=st.sampled_from(["imr", "imr_sd", "p", "np", "c", "u"]))
def test_excluded_samples_change_nothing(data, kind):
    k = data.draw(st.integers(1, 25))
    mask = data.draw(masks(k))
    if kind.startswith("imr"):
        x = data.draw(
            st.lists(st.integers(-500, 500).map(lambda v: v / 10.0), min_size=k, max_size=k)
        )
        method = "sd" if kind == "imr_sd" else "mr"

        def fn(d, excluded=None):
            return E.imr_limits(d, excluded=excluded, sigma_method=method)

        args_full, args_kept = (x,), ([v for v, m in zip(x, mask, strict=True) if not m],)
        args_bad = ([math.nan if m else v for v, m in zip(x, mask, strict=True)],)
    else:
        sizes = data.draw(st.lists(st.integers(1, 60), min_size=k, max_size=k))
        if kind == "np":
            sizes = [sizes[0]] * k
        counts = [data.draw(st.integers(0, n)) for n in sizes]
        if kind == "u":
            sizes = [n / 4 for n in sizes]  # fractional inspection units
        fn = {
            "p": lambda c, n, excluded=None: E.p_limits(c, n, excluded=excluded),
            "np": lambda c, n, excluded=None: E.np_limits(c, n, excluded=excluded),
            "c": lambda c, n, excluded=None: E.c_limits(c, excluded=excluded),
            "u": lambda c, n, excluded=None: E.u_limits(c, n, excluded=excluded),
        }[kind]

        def keep(seq):
            return [v for v, m in zip(seq, mask, strict=True) if not m]

        args_full, args_kept = (counts, sizes), (keep(counts), keep(sizes))
        bad_counts = [-7 if m else v for v, m in zip(counts, mask, strict=True)]
        bad_sizes = (
            [0 if m else v for v, m in zip(sizes, mask, strict=True)] if kind != "np" else sizes
        )
        args_bad = (bad_counts, bad_sizes)
    a = outcome(lambda: fn(*args_full, excluded=mask))
    b = outcome(lambda: fn(*args_kept))
    c = outcome(lambda: fn(*args_bad, excluded=mask))
    if isinstance(b, type):
        assert a is b and c is b
        return
    for r in (a, c):
        assert r.excluded_indices == tuple(i for i, m in enumerate(mask) if m)
        assert_same_limits(r, b)
        assert same(r.sizes, b.sizes)


# ---------------------------------------------------------------------------------------
# Scalar z == vector z (the real-time path computes the same numbers)
# ---------------------------------------------------------------------------------------


@SETTINGS
@given(
    stat=st.sampled_from(E.STATISTICS),
    value=st.floats(0, 100),
    size=st.integers(2, 50),
    center=st.floats(0.01, 0.99),
    sigma=st.floats(0.01, 10),
)
def test_scalar_z_matches_vector_z(stat, value, size, center, sigma):
    vec = E.z_scores(stat, [value], [size], center, sigma)[0]
    assert E.z_score(stat, value, size, center, sigma) == vec
