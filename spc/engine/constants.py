"""Control-chart constants d2, d3, c4 and the factors derived from them, for n = 2..MAX_N.

Nothing here is typed in from a table: every constant is computed from its definition
(the tests compare the results with the published table of Montgomery, *Introduction to
Statistical Quality Control*, Appendix VI — the same factors ASTM E2587 tabulates).

* ``d2(n) = E[R]`` and ``d3(n) = sd[R]`` of the range ``R`` of ``n`` independent standard
  normal variables, by numerical integration of the range distribution
  ``P(R > r) = 1 - n ∫ φ(x) (Φ(x + r) - Φ(x))^(n-1) dx``: the inner integral by the trapezoid
  rule (step 0.02 on [-9, 9]; spectrally accurate for this smooth, Gaussian-decaying
  integrand), then ``E[R] = ∫ P(R > r) dr`` and ``E[R²] = ∫ 2 r P(R > r) dr`` by 64-point
  Gauss–Legendre quadrature on [0, 14] (P(R > 14) < 1e-20 for every n ≤ 50). Absolute error
  ≈ 1e-13 (the tests check against scipy.integrate.quad / dblquad of other formulas).
* ``c4(n) = sqrt(2/(n-1)) Γ(n/2) / Γ((n-1)/2)`` (``E[s] = c4 σ``), via log-gamma.

Derived factors (3-sigma, as tabulated):

=====  =========================================  =====================================
A      3/√n                                        X̄ limits, σ known
A2     3/(d2 √n)                                   X̄ limits from R̄
A3     3/(c4 √n)                                   X̄ limits from S̄
B3/B4  max(0, 1 ∓ 3 √(1-c4²)/c4)                   S limits from S̄
B5/B6  max(0, c4 ∓ 3 √(1-c4²))                     S limits, σ known
D1/D2  max(0, d2 ∓ 3 d3)                           R limits, σ known
D3/D4  max(0, 1 ∓ 3 d3/d2)                         R limits from R̄
E2     3/d2                                        individuals limits from the mean moving
                                                   range of span n (exact E2(2) = 2.6587;
                                                   tables print 3/1.128 = 2.660)
=====  =========================================  =====================================

All constants for n = 2..MAX_N are computed together on first use (≈ 20 ms, once per
process) and cached; afterwards each call is a tuple lookup.
"""

from __future__ import annotations

import math
import numbers
from functools import cache

import numpy as np
from scipy import special

from .errors import SubgroupSizeError

__all__ = [
    "MAX_N",
    "A",
    "A2",
    "A3",
    "B3",
    "B4",
    "B5",
    "B6",
    "D1",
    "D2",
    "D3",
    "D4",
    "E2",
    "c4",
    "d2",
    "d3",
    "table",
]

#: Largest supported subgroup size (smallest is 2).
MAX_N = 50

_NAMES = ("d2", "d3", "c4", "A", "A2", "A3", "B3", "B4", "B5", "B6", "D1", "D2", "D3", "D4", "E2")


def _range_moments(n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Return arrays ``(d2, d3)`` indexed by n (entries 0 and 1 are NaN)."""
    x = np.linspace(-9.0, 9.0, 901)  # step 0.02; φ(±9) ≈ 1e-18
    cdf = special.ndtr(x)
    nodes, weights = special.roots_legendre(64)
    r_max = 14.0  # P(R > 14) < 1e-20 for every n ≤ 50
    r = 0.5 * r_max * (nodes + 1.0)
    w = 0.5 * r_max * weights
    # g[r, x] = Φ(x + r) - Φ(x): probability that a value lies in [x, x + r]
    g = special.ndtr(x[None, :] + r[:, None]) - cdf[None, :]
    # integrand[r, x] = φ(x) g^(n-1), built up by repeated multiplication
    integrand = np.repeat((np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi))[None, :], r.size, 0)
    d2 = np.full(n_max + 1, np.nan)
    d3 = np.full(n_max + 1, np.nan)
    for n in range(2, n_max + 1):
        integrand *= g
        sf = 1.0 - n * np.trapezoid(integrand, x, axis=1)  # P(R > r)
        mean = float(np.dot(w, sf))
        second = float(np.dot(w, 2.0 * r * sf))
        d2[n] = mean
        d3[n] = math.sqrt(second - mean * mean)
    return d2, d3


def _c4_exact(n: int | np.ndarray) -> float | np.ndarray:
    """c4 for any n ≥ 2 (no range check; also used for N = all observations)."""
    n = np.asarray(n, dtype=float)
    out = np.sqrt(2.0 / (n - 1.0)) * np.exp(
        special.gammaln(n / 2.0) - special.gammaln((n - 1.0) / 2.0)
    )
    return float(out) if out.ndim == 0 else out


@cache
def _tables() -> dict[str, np.ndarray]:
    d2, d3 = _range_moments(MAX_N)
    n = np.arange(MAX_N + 1, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        c4 = np.full(MAX_N + 1, np.nan)
        c4[2:] = _c4_exact(n[2:])
        c5 = np.sqrt(1.0 - c4 * c4)  # sd of s / σ
        t = {
            "d2": d2,
            "d3": d3,
            "c4": c4,
            "A": 3.0 / np.sqrt(n),
            "A2": 3.0 / (d2 * np.sqrt(n)),
            "A3": 3.0 / (c4 * np.sqrt(n)),
            "B3": np.maximum(0.0, 1.0 - 3.0 * c5 / c4),
            "B4": 1.0 + 3.0 * c5 / c4,
            "B5": np.maximum(0.0, c4 - 3.0 * c5),
            "B6": c4 + 3.0 * c5,
            "D1": np.maximum(0.0, d2 - 3.0 * d3),
            "D2": d2 + 3.0 * d3,
            "D3": np.maximum(0.0, 1.0 - 3.0 * d3 / d2),
            "D4": 1.0 + 3.0 * d3 / d2,
            "E2": 3.0 / d2,
        }
    for arr in t.values():
        arr[:2] = np.nan
        arr.flags.writeable = False
    return t


@cache
def _tuples() -> dict[str, tuple[float, ...]]:
    return {k: tuple(float(v) for v in arr) for k, arr in _tables().items()}


def check_n(n: object, what: str = "subgroup size n") -> int:
    """Validate a subgroup size and return it as ``int``; raise :class:`SubgroupSizeError`."""
    if isinstance(n, bool) or not isinstance(n, numbers.Real):
        raise SubgroupSizeError(f"{what} must be an integer, got {n!r}")
    if isinstance(n, numbers.Integral):
        ni = int(n)
    else:
        fn = float(n)
        if not math.isfinite(fn) or fn != math.floor(fn):
            raise SubgroupSizeError(f"{what} must be an integer, got {n!r}")
        ni = int(fn)
    if not 2 <= ni <= MAX_N:
        raise SubgroupSizeError(f"{what} = {ni} is outside the supported range 2..{MAX_N}")
    return ni


def lookup(name: str, ns: np.ndarray) -> np.ndarray:
    """Vectorised constant lookup for already-validated integer sizes (internal helper)."""
    return _tables()[name][ns]


def _get(name: str, n: object) -> float:
    return _tuples()[name][check_n(n)]


def d2(n: int) -> float:
    """Mean of the range of n standard normal values (σ = R̄/d2)."""
    return _get("d2", n)


def d3(n: int) -> float:
    """Standard deviation of the range of n standard normal values."""
    return _get("d3", n)


def c4(n: int) -> float:
    """E[s]/σ for samples of n normal values (σ = S̄/c4)."""
    return _get("c4", n)


def A(n: int) -> float:  # noqa: N802 - conventional SPC symbol
    """3/√n: X̄ limits μ ± Aσ when σ is known."""
    return _get("A", n)


def A2(n: int) -> float:  # noqa: N802
    """3/(d2√n): X̄ limits X̿ ± A2·R̄."""
    return _get("A2", n)


def A3(n: int) -> float:  # noqa: N802
    """3/(c4√n): X̄ limits X̿ ± A3·S̄."""
    return _get("A3", n)


def B3(n: int) -> float:  # noqa: N802
    """S-chart LCL factor: LCL = B3·S̄."""
    return _get("B3", n)


def B4(n: int) -> float:  # noqa: N802
    """S-chart UCL factor: UCL = B4·S̄."""
    return _get("B4", n)


def B5(n: int) -> float:  # noqa: N802
    """S-chart LCL factor with σ known: LCL = B5·σ."""
    return _get("B5", n)


def B6(n: int) -> float:  # noqa: N802
    """S-chart UCL factor with σ known: UCL = B6·σ."""
    return _get("B6", n)


def D1(n: int) -> float:  # noqa: N802
    """R-chart LCL factor with σ known: LCL = D1·σ."""
    return _get("D1", n)


def D2(n: int) -> float:  # noqa: N802
    """R-chart UCL factor with σ known: UCL = D2·σ."""
    return _get("D2", n)


def D3(n: int) -> float:  # noqa: N802
    """R-chart LCL factor: LCL = D3·R̄."""
    return _get("D3", n)


def D4(n: int) -> float:  # noqa: N802
    """R-chart UCL factor: UCL = D4·R̄."""
    return _get("D4", n)


def E2(n: int) -> float:  # noqa: N802
    """3/d2(n): individuals limits X̄ ± E2·MR̄ for moving ranges of span n (E2(2) ≈ 2.660)."""
    return _get("E2", n)


def table(n_max: int = 25) -> list[dict[str, float]]:
    """All constants for n = 2..n_max, one dict per n (``{"n": 5, "d2": 2.3259…, …}``)."""
    n_max = check_n(n_max, "n_max")
    t = _tuples()
    return [{"n": n, **{k: t[k][n] for k in _NAMES}} for n in range(2, n_max + 1)]
