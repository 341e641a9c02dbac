"""Control limits for every chart type, z-scores of new points, EWMA and CUSUM.

Statistics conventions (the contract)
-------------------------------------
σ within (the process σ estimate, :attr:`Limits.sigma`):

* X̄-R: ``σ = R̄/d2(n)``. X̄-S: ``σ = S̄/c4(n)``. I-MR: ``σ = MR̄/d2(2)`` with moving ranges of
  span 2 between consecutive *kept* values (an excluded value is dropped before the moving
  ranges are formed, so the MR bridging it is used — as qcc does).
* Variable subgroup sizes (X̄-R, X̄-S): the pooled, minimum-variance unbiased combination of
  the per-subgroup estimates (Burr 1969; qcc's "MVLUE"; ASTM E2587 for unequal n):
  ``σ = Σ wᵢ (Rᵢ/d2(nᵢ)) / Σ wᵢ`` with ``wᵢ = d2(nᵢ)²/d3(nᵢ)²`` (ranges), and
  ``σ = Σ hᵢ (sᵢ/c4(nᵢ)) / Σ hᵢ`` with ``hᵢ = c4(nᵢ)²/(1 - c4(nᵢ)²)`` (standard deviations).
  Both reduce exactly to R̄/d2(n) and S̄/c4(n) when n is constant. The grand mean is the mean of
  all observations (``Σ nᵢ x̄ᵢ / Σ nᵢ``). Limits are then per point.
* p, np, c, u: binomial / Poisson formulas; p and u get per-point limits when the sample size
  varies. A lower limit below zero becomes zero (p's upper limit is capped at 1, np's at n).

Plotted statistic → centre line and σ of the statistic (``sigma_point``), from ``center`` and
``sigma`` of the fit (this is also how :func:`z_scores` and :func:`point_limits` judge new,
Phase II points, whose n may differ):

=========  ==========================  ==========================
statistic  centre line                 σ of the statistic
=========  ==========================  ==========================
xbar       center (grand mean)         σ/√n
i          center (mean)               σ
r          d2(n)·σ                     d3(n)·σ
s          c4(n)·σ                     σ·√(1 - c4(n)²)
mr         d2(2)·σ                     d3(2)·σ
p          p̄                           √(p̄(1 - p̄)/n)
np         n·p̄                         √(n·p̄(1 - p̄))   (``sigma`` of an np fit is this)
c          c̄                           √c̄
u          ū                           √(ū/n)
ewma       center                      σ/√n·√(λ/(2-λ)·(1-(1-λ)^(2i)))  (i = 1-based position)
=========  ==========================  ==========================

``Limits.sigma`` is the process σ for variables charts; for attribute charts it is the σ of one
unit — √(p̄(1-p̄)) for p, √c̄ for c, √ū for u — except np, where it is √(n p̄(1-p̄)).

Limits are ``center ± nsigma·sigma_point`` (3σ by default), clipped at 0 from below for
r, s, mr, p, np, c and u. z-scores always use the symmetric σ of the statistic, so with a
clipped LCL of zero the lower rule-1 signal cannot fire (a range/count cannot be negative) —
this is correct and consistent with the limits. z = (statistic - centre line)/σ_statistic.

Shapes: ``ucl``, ``lcl``, ``sigma_point`` (and ``center`` for R/S charts) are floats when they
are the same for every point, else 1-D arrays aligned with the *kept* points
(:attr:`ChartLimits.included_indices` maps them to input positions). Arrays are read-only.

Excluded subgroups (boolean ``excluded`` mask) are dropped before anything is computed: they
are never validated and cannot influence a result.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from . import _validate as V
from .constants import MAX_N, _c4_exact, _tuples, check_n, lookup
from .errors import (
    InvalidCountError,
    NonFiniteValueError,
    ParameterError,
    SubgroupSizeError,
    ZeroVariationError,
)
from .rules import RuleFiring

__all__ = [
    "CHART_TYPES",
    "STATISTICS",
    "ChartLimits",
    "CusumResult",
    "Limits",
    "PointLimits",
    "c_limits",
    "calculate_limits",
    "cusum",
    "cusum_signals",
    "cusum_step",
    "ewma_limits",
    "ewma_signals",
    "ewma_step",
    "imr_limits",
    "np_limits",
    "p_limits",
    "point_limits",
    "standard_given_limits",
    "u_limits",
    "xbar_limits_from_statistics",
    "xbar_r_limits",
    "xbar_s_limits",
    "z_score",
    "z_scores",
]

#: Chart types understood by :func:`calculate_limits`.
CHART_TYPES = ("xbar_r", "xbar_s", "imr", "p", "np", "c", "u", "ewma", "cusum")
#: Plotted statistics understood by :func:`z_scores` / :func:`point_limits`.
STATISTICS = ("xbar", "r", "s", "i", "mr", "p", "np", "c", "u")

_EMPTY: Mapping[str, float] = MappingProxyType({})
_CLIP_LOW = frozenset({"r", "s", "mr", "p", "np", "c", "u"})
_NEEDS_SIZE = frozenset({"xbar", "r", "s", "p", "u"})


def _freeze(x: float | np.ndarray) -> float | np.ndarray:
    if isinstance(x, np.ndarray):
        if x.ndim == 0:
            return float(x)
        x = np.array(x, dtype=float)
        x.flags.writeable = False
        return x
    return float(x)


def _frozen_array(x: np.ndarray | None, dtype: type = float) -> np.ndarray | None:
    if x is None:
        return None
    a = np.array(x, dtype=dtype)
    a.flags.writeable = False
    return a


# ---------------------------------------------------------------------------------------
# Result types
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Limits:
    """Limits of one plotted statistic.

    ``center``, ``ucl``, ``lcl``, ``sigma_point`` are floats, or read-only arrays (one entry per
    kept point) where they vary. ``sigma`` is the σ estimate of the fit (see module docs),
    ``method`` says how it was obtained, ``statistic`` names the plotted statistic (one of
    :data:`STATISTICS` or ``"ewma"``) and ``nsigma`` the width of the limits in σ units.
    Result objects compare by identity (their fields may be arrays): compare fields instead.
    """

    center: float | np.ndarray
    ucl: float | np.ndarray
    lcl: float | np.ndarray
    sigma: float
    sigma_point: float | np.ndarray
    method: str
    statistic: str = ""
    nsigma: float = 3.0

    @property
    def per_point(self) -> bool:
        """True when the limits differ from point to point."""
        return any(
            isinstance(v, np.ndarray) for v in (self.center, self.ucl, self.lcl, self.sigma_point)
        )

    def for_sizes(self, sizes: object = None) -> PointLimits:
        """Limits of this fit for new points of the given sizes (Phase II)."""
        return point_limits(self.statistic, sizes, self._base_center(), self.sigma, self.nsigma)

    def z_scores(self, statistics: object, sizes: object = None) -> np.ndarray:
        """z-scores of plotted statistics against this fit (new points: pass their sizes).

        For EWMA limits, ``statistics`` must be the EWMA series the limits were made for.
        """
        if self.statistic == "ewma":
            stats = V.as_float_1d(statistics, "statistic")
            sp = np.asarray(self.sigma_point, dtype=float)
            if sp.shape != stats.shape:
                raise ParameterError(
                    "EWMA z-scores need the EWMA series these limits were made for"
                )
            V.check_finite(stats, "statistic")
            return (stats - float(self.center)) / sp
        return z_scores(self.statistic, statistics, sizes, self._base_center(), self.sigma)

    def _base_center(self) -> float | None:
        return float(self.center) if not isinstance(self.center, np.ndarray) else None


@dataclass(frozen=True, eq=False)
class PointLimits:
    """Centre line, limits and σ of the statistic for a batch of points (arrays)."""

    center: np.ndarray
    ucl: np.ndarray
    lcl: np.ndarray
    sigma_point: np.ndarray


@dataclass(frozen=True, eq=False)
class ChartLimits:
    """A fitted chart: primary limits (X̄, I, p, …), optional secondary limits (R, S, MR).

    ``included_indices`` are the input positions of the kept points (the rows the per-point
    arrays and ``primary_values`` describe); ``excluded_indices`` those that were dropped.
    ``primary_values``/``secondary_values`` are the plotted statistics of the kept points
    (for I-MR the moving ranges: one fewer than the points, ``mr[j]`` belongs to kept point
    ``j + 1``; for EWMA the EWMA statistic). ``sizes`` holds n (units for u) per kept point,
    ``params`` the fit parameters (``n``, ``lam``, ``L`` …) the pipeline needs to continue.
    """

    primary: Limits
    secondary: Limits | None
    chart_type: str
    excluded_indices: tuple[int, ...] = ()
    included_indices: np.ndarray | None = None
    primary_values: np.ndarray | None = None
    secondary_values: np.ndarray | None = None
    sizes: np.ndarray | None = None
    params: Mapping[str, float] = field(default_factory=lambda: _EMPTY)

    @property
    def sigma(self) -> float:
        return self.primary.sigma

    @property
    def method(self) -> str:
        return self.primary.method


# ---------------------------------------------------------------------------------------
# Statistic → centre line / σ of the statistic
# ---------------------------------------------------------------------------------------


def _sizes_array(sizes: object, statistic: str) -> np.ndarray:
    arr = V.as_float_1d(sizes, "size")
    V.check_finite(arr, "size")
    if (arr <= 0).any():
        j = int(np.argmax(arr <= 0))
        raise InvalidCountError(f"size {j} is {arr[j]:g}; sizes must be positive", index=j)
    if statistic in ("xbar", "r", "s", "p") and (arr != np.floor(arr)).any():
        j = int(np.argmax(arr != np.floor(arr)))
        raise InvalidCountError(
            f"size {j} is {arr[j]:g}; subgroup sizes must be whole numbers", index=j
        )
    if statistic in ("r", "s"):
        bad = (arr < 2) | (arr > MAX_N)
        if bad.any():
            j = int(np.argmax(bad))
            raise SubgroupSizeError(
                f"size {j} is {arr[j]:g}; {statistic.upper()} charts need subgroups of 2..{MAX_N}",
                index=j,
            )
    return arr


def _cl_sd(
    statistic: str, sizes: object, center: float | None, sigma: float | None
) -> tuple[np.ndarray | float, np.ndarray | float, np.ndarray | None]:
    """(centre line, σ of the statistic, sizes array or None) for a statistic."""
    if statistic not in STATISTICS:
        raise ParameterError(
            f"unknown statistic {statistic!r}; expected one of {', '.join(STATISTICS)}"
        )
    n = None
    if sizes is not None:
        n = _sizes_array(sizes, statistic)
    elif statistic in _NEEDS_SIZE:
        raise ParameterError(f"sizes are required for statistic {statistic!r}")

    def need_sigma() -> float:
        if sigma is None:
            raise ParameterError(f"sigma is required for statistic {statistic!r}")
        return V.positive_finite(sigma, "sigma")

    def need_center() -> float:
        if center is None:
            raise ParameterError(f"center is required for statistic {statistic!r}")
        return V.finite(center, "center")

    if statistic == "xbar":
        return need_center(), need_sigma() / np.sqrt(n), n
    if statistic == "i":
        return need_center(), need_sigma(), n
    if statistic in ("r", "s"):
        s = need_sigma()
        ni = n.astype(np.intp)
        if statistic == "r":
            return lookup("d2", ni) * s, lookup("d3", ni) * s, n
        c4 = lookup("c4", ni)
        return c4 * s, s * np.sqrt(1.0 - c4 * c4), n
    if statistic == "mr":
        s = need_sigma()
        t = _tuples()
        return t["d2"][2] * s, t["d3"][2] * s, n
    c = need_center()
    if statistic == "p":
        if not 0.0 < c < 1.0:
            raise ParameterError(f"p̄ must be strictly between 0 and 1, got {c!r}")
        return c, np.sqrt(c * (1.0 - c) / n), n
    if statistic == "np":
        if c <= 0:
            raise ParameterError(f"n·p̄ must be positive, got {c!r}")
        return c, need_sigma(), n
    if c <= 0:
        raise ParameterError(f"{'c̄' if statistic == 'c' else 'ū'} must be positive, got {c!r}")
    if statistic == "c":
        return c, math.sqrt(c), n
    return c, np.sqrt(c / n), n  # u


def _limits_from(
    statistic: str,
    cl: float | np.ndarray,
    sd: float | np.ndarray,
    nsigma: float,
    n: np.ndarray | None,
) -> tuple[float | np.ndarray, float | np.ndarray]:
    ucl = cl + nsigma * sd
    lcl = cl - nsigma * sd
    if statistic in _CLIP_LOW:
        lcl = np.maximum(lcl, 0.0)
    if statistic == "p":
        ucl = np.minimum(ucl, 1.0)
    elif statistic == "np" and n is not None:
        ucl = np.minimum(ucl, n)
    return ucl, lcl


def point_limits(
    statistic: str,
    sizes: object = None,
    center: float | None = None,
    sigma: float | None = None,
    nsigma: float = 3.0,
) -> PointLimits:
    """Centre line, UCL, LCL and σ of ``statistic`` for points of the given sizes.

    ``center``/``sigma`` are those of a fit (:attr:`Limits.center`, :attr:`Limits.sigma`);
    see the module table for what each statistic needs.
    """
    nsigma = V.positive_finite(nsigma, "nsigma")
    cl, sd, n = _cl_sd(statistic, sizes, center, sigma)
    ucl, lcl = _limits_from(statistic, cl, sd, nsigma, n)
    shape = n.shape if n is not None else (1,)

    def arr(x: float | np.ndarray) -> np.ndarray:
        a = np.array(np.broadcast_to(np.asarray(x, dtype=float), shape), dtype=float)
        a.flags.writeable = False
        return a

    return PointLimits(arr(cl), arr(ucl), arr(lcl), arr(sd))


def z_scores(
    statistic: str,
    statistics: object,
    sizes: object = None,
    center: float | None = None,
    sigma: float | None = None,
) -> np.ndarray:
    """z = (statistic - centre line)/σ_statistic for a batch of plotted statistics.

    ``statistic`` is one of :data:`STATISTICS`; ``sizes`` (n per point; inspection units for
    u) is required for xbar, r, s, p and u and may be a scalar. ``center``/``sigma`` come from
    the fit (see the module table). Non-finite statistics raise NonFiniteValueError.
    """
    stats = V.as_float_1d(statistics, "statistic")
    V.check_finite(stats, "statistic")
    if sizes is not None and np.ndim(sizes) == 0:
        sizes = np.full(stats.shape, float(sizes))
    cl, sd, n = _cl_sd(statistic, sizes, center, sigma)
    if n is not None and n.shape != stats.shape:
        raise ParameterError(f"{n.size} sizes given for {stats.size} statistics")
    return (stats - cl) / sd


def z_score(
    statistic: str,
    value: float,
    size: float | None = None,
    center: float | None = None,
    sigma: float | None = None,
) -> float:
    """Scalar :func:`z_scores` in pure Python (the one-new-point real-time path).

    Gives bit-identical results to :func:`z_scores`.
    """
    v = float(value)
    if not math.isfinite(v):
        raise NonFiniteValueError(f"statistic is {V.describe_nonfinite(v)}")
    if statistic not in STATISTICS:
        raise ParameterError(
            f"unknown statistic {statistic!r}; expected one of {', '.join(STATISTICS)}"
        )
    if size is None and statistic in _NEEDS_SIZE:
        raise ParameterError(f"size is required for statistic {statistic!r}")
    if statistic in ("xbar", "i", "r", "s", "mr", "np"):
        if sigma is None:
            raise ParameterError(f"sigma is required for statistic {statistic!r}")
        s = V.positive_finite(sigma, "sigma")
    if statistic in ("r", "s"):
        n = check_n(size, "size")
        t = _tuples()
        if statistic == "r":
            return (v - t["d2"][n] * s) / (t["d3"][n] * s)
        c4 = t["c4"][n]
        return (v - c4 * s) / (s * math.sqrt(1.0 - c4 * c4))
    if statistic == "mr":
        t = _tuples()
        return (v - t["d2"][2] * s) / (t["d3"][2] * s)
    if center is None:
        raise ParameterError(f"center is required for statistic {statistic!r}")
    c = V.finite(center, "center")
    if statistic == "i":
        return (v - c) / s
    if statistic == "np":
        if c <= 0:
            raise ParameterError(f"n·p̄ must be positive, got {center!r}")
        return (v - c) / s
    if statistic == "c":
        if c <= 0:
            raise ParameterError(f"c̄ must be positive, got {center!r}")
        return (v - c) / math.sqrt(c)
    n_f = V.positive_finite(size, "size")
    if statistic == "xbar":
        return (v - c) / (s / math.sqrt(n_f))
    if statistic == "p":
        if not 0.0 < c < 1.0:
            raise ParameterError(f"p̄ must be strictly between 0 and 1, got {center!r}")
        return (v - c) / math.sqrt(c * (1.0 - c) / n_f)
    if c <= 0:
        raise ParameterError(f"ū must be positive, got {center!r}")
    return (v - c) / math.sqrt(c / n_f)


# ---------------------------------------------------------------------------------------
# Variables charts
# ---------------------------------------------------------------------------------------


def _nsigma(nsigma: object) -> float:
    return V.positive_finite(nsigma, "nsigma")


def _mk(
    statistic: str,
    sizes: np.ndarray | None,
    center: float | None,
    sigma: float | None,
    L: float,
    method: str,
    fit_sigma: float,
) -> Limits:
    """Limits of a statistic; floats when every point has the same limits."""
    cl, sd, n = _cl_sd(statistic, sizes, center, sigma)
    ucl, lcl = _limits_from(statistic, cl, sd, L, n)

    def out(x: float | np.ndarray) -> float | np.ndarray:
        a = np.asarray(x, dtype=float)
        if a.ndim == 0 or sizes is None or (a.size and (a == a.flat[0]).all()):
            return float(a.flat[0])
        return _freeze(a)

    return Limits(out(cl), out(ucl), out(lcl), fit_sigma, out(sd), method, statistic, L)


def _pooled_sigma(ni: np.ndarray, n: int | None, spread: np.ndarray, kind: str) -> tuple[float, str]:
    chart = "X̄-R" if kind == "r" else "X̄-S"
    if n is not None:
        if kind == "r":
            return float(spread.mean()) / _tuples()["d2"][n], f"{chart}: σ = R̄/d2({n})"
        return float(spread.mean()) / _tuples()["c4"][n], f"{chart}: σ = S̄/c4({n})"
    if kind == "r":
        d2 = lookup("d2", ni)
        w = (d2 / lookup("d3", ni)) ** 2
        sigma = float(np.sum(w * spread / d2) / np.sum(w))
        return sigma, (
            f"{chart} (variable n): σ = Σwᵢ·(Rᵢ/d2(nᵢ))/Σwᵢ, wᵢ = d2(nᵢ)²/d3(nᵢ)² "
            "(pooled minimum-variance estimate)"
        )
    c4 = lookup("c4", ni)
    h = c4 * c4 / (1.0 - c4 * c4)
    sigma = float(np.sum(h * spread / c4) / np.sum(h))
    return sigma, (
        f"{chart} (variable n): σ = Σhᵢ·(sᵢ/c4(nᵢ))/Σhᵢ, hᵢ = c4(nᵢ)²/(1-c4(nᵢ)²) "
        "(pooled minimum-variance estimate)"
    )


def _xbar_fit(subgroups: object, excluded: object, nsigma: object, kind: str) -> ChartLimits:
    L = _nsigma(nsigma)
    sg = V.Subgroups(subgroups, excluded)
    sg.validate("subgroup", "X̄-R" if kind == "r" else "X̄-S")
    means, spread = sg.reduce(kind)
    return _xbar_chart(means, spread, sg.sizes, sg.n, sg.positions, sg.excluded, L, kind)


def _xbar_chart(means: np.ndarray, spread: np.ndarray, ni: np.ndarray, n: int | None,
                positions: np.ndarray, excluded: tuple[int, ...], L: float, kind: str) -> ChartLimits:
    """X̄-R / X̄-S limits from each kept subgroup's mean, spread (R or s) and size."""
    sigma, method = _pooled_sigma(ni, n, spread, kind)
    if not sigma > 0:
        what = "range" if kind == "r" else "standard deviation"
        raise ZeroVariationError(
            f"all {ni.size} subgroups have zero {what}: the process σ cannot be estimated "
            f"({'R̄' if kind == 'r' else 'S̄'} = 0)"
        )
    if n is not None:
        center = float(means.mean())
        sizes = np.array([float(n)])
    else:
        center = float(np.sum(ni * means) / np.sum(ni))
        sizes = ni.astype(float)
    primary = _mk("xbar", sizes, center, sigma, L, method, sigma)
    if kind == "r":
        m2 = f"R: CL = d2(n)σ (= R̄), limits d2(n)σ ± {L:g}·d3(n)σ (= D3·R̄, D4·R̄), LCL ≥ 0"
    else:
        m2 = f"S: CL = c4(n)σ (= S̄), limits c4(n)σ ± {L:g}σ√(1-c4(n)²) (= B3·S̄, B4·S̄), LCL ≥ 0"
    secondary = _mk(kind, sizes, None, sigma, L, m2, sigma)
    return ChartLimits(
        primary,
        secondary,
        "xbar_r" if kind == "r" else "xbar_s",
        excluded,
        _frozen_array(positions, np.intp),
        _frozen_array(means),
        _frozen_array(spread),
        _frozen_array(ni, np.intp),
        MappingProxyType({"n": float(n)} if n is not None else {}),
    )


def xbar_limits_from_statistics(
    means: object, spreads: object, sizes: object, kind: str = "r", excluded: object = None,
    nsigma: float = 3.0,
) -> ChartLimits:
    """X̄-R (``kind="r"``, spreads are ranges) or X̄-S (``"s"``, sample standard deviations)
    limits from each subgroup's stored mean, spread and size — the same result as
    :func:`xbar_r_limits` / :func:`xbar_s_limits` on the raw values, without them."""
    if kind not in ("r", "s"):
        raise ParameterError(f"kind must be 'r' or 's', got {kind!r}")
    L = _nsigma(nsigma)
    m = V.as_float_1d(means, "mean")
    sp = V.as_float_1d(spreads, "spread")
    ni = V.as_float_1d(sizes, "size")
    if not m.size == sp.size == ni.size:
        raise ParameterError(f"{m.size} means, {sp.size} spreads and {ni.size} sizes: they must match")
    mask = V.as_mask(excluded, m.size)
    positions, excl = V.kept_positions(m.size, mask)
    m, sp, ni = m[positions], sp[positions], ni[positions]
    V.require_count(m.size, 2, "subgroup", len(excl))
    V.check_finite(m, "mean", positions)
    V.check_finite(sp, "spread", positions)
    bad = (ni != np.floor(ni)) | (ni < 2) | (ni > MAX_N)
    if bad.any():
        j = int(np.argmax(bad))
        raise SubgroupSizeError(
            f"subgroup {int(positions[j])} has size {ni[j]:g}; X̄ charts need subgroups of "
            f"2..{MAX_N} values", index=int(positions[j]))
    if (sp < 0).any():
        j = int(np.argmax(sp < 0))
        raise ParameterError(f"subgroup {int(positions[j])} has a negative spread {sp[j]:g}")
    ni = ni.astype(np.intp)
    n = int(ni[0]) if (ni == ni[0]).all() else None
    return _xbar_chart(m, sp, ni, n, positions, excl, L, kind)


def xbar_r_limits(subgroups: object, excluded: object = None, nsigma: float = 3.0) -> ChartLimits:
    """X̄ and R chart limits from Phase I subgroups (σ = R̄/d2(n)).

    ``subgroups``: a 2-D array ``(k, n)`` (fast path) or a sequence of sequences, possibly of
    varying size (→ per-point limits from the pooled σ). ``excluded``: optional boolean mask.
    """
    return _xbar_fit(subgroups, excluded, nsigma, "r")


def xbar_s_limits(subgroups: object, excluded: object = None, nsigma: float = 3.0) -> ChartLimits:
    """X̄ and S chart limits from Phase I subgroups (σ = S̄/c4(n)); see :func:`xbar_r_limits`."""
    return _xbar_fit(subgroups, excluded, nsigma, "s")


def imr_limits(
    values: object, excluded: object = None, nsigma: float = 3.0, sigma_method: str = "mr"
) -> ChartLimits:
    """Individuals and moving-range chart limits (σ = MR̄/d2(2), moving ranges of span 2).

    Excluded values are dropped *before* the moving ranges are formed. ``sigma_method="sd"``
    uses ``s/c4(N)`` of all N kept values for the individuals chart instead (qcc's
    ``std.dev = "SD"``); the MR chart always uses σ = MR̄/d2(2).
    """
    L = _nsigma(nsigma)
    if sigma_method not in ("mr", "sd"):
        raise ParameterError(f"sigma_method must be 'mr' or 'sd', got {sigma_method!r}")
    x, positions, excl, _ = V.kept_float_1d(values, excluded, "value")
    V.require_count(x.size, 2, "value", len(excl))
    V.check_finite(x, "value", positions)
    mr = np.abs(np.diff(x))
    sigma_mr = float(mr.mean()) / _tuples()["d2"][2]
    if not sigma_mr > 0:
        raise ZeroVariationError(
            f"all {x.size} values are equal (MR̄ = 0): the process σ cannot be estimated"
        )
    if sigma_method == "mr":
        sigma = sigma_mr
        method = "I-MR: σ = MR̄/d2(2)"
    else:
        sigma = float(x.std(ddof=1)) / _c4_exact(x.size)
        method = f"I-MR: σ = s/c4(N), N = {x.size}"
    center = float(x.mean())
    primary = _mk("i", None, center, sigma, L, method, sigma)
    secondary = _mk(
        "mr",
        None,
        None,
        sigma_mr,
        L,
        f"MR: CL = d2(2)σ (= MR̄), limits ± {L:g}·d3(2)σ (= D4(2)·MR̄), LCL ≥ 0",
        sigma_mr,
    )
    return ChartLimits(
        primary,
        secondary,
        "imr",
        excl,
        _frozen_array(positions, np.intp),
        _frozen_array(x),
        _frozen_array(mr),
        None,
        MappingProxyType({"n": 1.0}),
    )


# ---------------------------------------------------------------------------------------
# Attribute charts
# ---------------------------------------------------------------------------------------


def _attr_chart(
    lim: Limits,
    chart_type: str,
    values: np.ndarray,
    sizes: np.ndarray | None,
    positions: np.ndarray,
    excl: tuple[int, ...],
    params: dict[str, float],
) -> ChartLimits:
    return ChartLimits(
        lim,
        None,
        chart_type,
        excl,
        _frozen_array(positions, np.intp),
        _frozen_array(values),
        None,
        _frozen_array(sizes) if sizes is not None else None,
        MappingProxyType(params),
    )


def _zero_fraction(pbar: float, k: int) -> None:
    if pbar == 0.0 or pbar == 1.0:
        which = "no" if pbar == 0.0 else "only"
        raise ZeroVariationError(
            f"{which} nonconforming items in all {k} samples (p̄ = {pbar:g}): "
            "the limits would have zero width"
        )


def p_limits(
    counts: object, sizes: object, excluded: object = None, nsigma: float = 3.0
) -> ChartLimits:
    """p chart: fraction nonconforming ``counts/sizes``; p̄ = Σd/Σn; per-point limits if n varies.

    ``sizes`` may be a scalar when every sample has the same size.
    """
    L = _nsigma(nsigma)
    c, n, positions, excl = V.attribute_inputs(counts, sizes, excluded, "sample size", True)
    assert n is not None
    V.check_not_above(c, n, positions)
    pbar = float(c.sum() / n.sum())
    _zero_fraction(pbar, c.size)
    const = bool((n == n[0]).all())
    method = "p: p̄ = Σd/Σn, σ_p = √(p̄(1-p̄)/n)" + ("" if const else " per sample (variable n)")
    lim = _mk("p", n, pbar, None, L, method, math.sqrt(pbar * (1.0 - pbar)))
    return _attr_chart(lim, "p", c / n, n, positions, excl, {"pbar": pbar})


def np_limits(
    counts: object, size: object, excluded: object = None, nsigma: float = 3.0
) -> ChartLimits:
    """np chart: number nonconforming in samples of constant size ``size`` (scalar or sequence)."""
    L = _nsigma(nsigma)
    c, n, positions, excl = V.attribute_inputs(counts, size, excluded, "sample size", True)
    assert n is not None
    if not (n == n[0]).all():
        j = int(np.argmax(n != n[0]))
        raise SubgroupSizeError(
            f"sample {int(positions[j])} has size {int(n[j])} but sample {int(positions[0])} has "
            f"{int(n[0])}: the np chart needs a constant sample size (use a p chart)",
            index=int(positions[j]),
        )
    V.check_not_above(c, n, positions)
    size_ = float(n[0])
    pbar = float(c.sum() / (size_ * c.size))
    _zero_fraction(pbar, c.size)
    sigma = math.sqrt(size_ * pbar * (1.0 - pbar))
    method = f"np: CL = n·p̄, σ = √(n·p̄(1-p̄)), n = {int(size_)}"
    lim = _mk("np", np.array([size_]), size_ * pbar, sigma, L, method, sigma)
    return _attr_chart(lim, "np", c, n, positions, excl, {"n": size_, "pbar": pbar})


def c_limits(counts: object, excluded: object = None, nsigma: float = 3.0) -> ChartLimits:
    """c chart: nonconformities per sample (constant area of opportunity); c̄ = mean count."""
    L = _nsigma(nsigma)
    c, _, positions, excl = V.attribute_inputs(counts, None, excluded, "unit", True)
    cbar = float(c.mean())
    if cbar == 0.0:
        raise ZeroVariationError(
            f"no nonconformities in any of the {c.size} samples (c̄ = 0): "
            "the limits would have zero width"
        )
    lim = _mk("c", None, cbar, None, L, "c: c̄ = mean count, σ = √c̄", math.sqrt(cbar))
    return _attr_chart(lim, "c", c, None, positions, excl, {"cbar": cbar})


def u_limits(
    counts: object, units: object, excluded: object = None, nsigma: float = 3.0
) -> ChartLimits:
    """u chart: nonconformities per unit ``counts/units``; ū = Σc/Σn; per-point limits if n varies.

    ``units`` (inspection units per sample; scalar or sequence) may be fractional.
    """
    L = _nsigma(nsigma)
    c, n, positions, excl = V.attribute_inputs(counts, units, excluded, "number of units", False)
    assert n is not None
    ubar = float(c.sum() / n.sum())
    if ubar == 0.0:
        raise ZeroVariationError(
            f"no nonconformities in any of the {c.size} samples (ū = 0): "
            "the limits would have zero width"
        )
    const = bool((n == n[0]).all())
    method = "u: ū = Σc/Σn, σ_u = √(ū/n)" + ("" if const else " per sample (variable n)")
    lim = _mk("u", n, ubar, None, L, method, math.sqrt(ubar))
    return _attr_chart(lim, "u", c / n, n, positions, excl, {"ubar": ubar})


# ---------------------------------------------------------------------------------------
# Standard given
# ---------------------------------------------------------------------------------------


def standard_given_limits(
    chart_type: str, center: float, sigma: float | None = None, n: object = 1, nsigma: float = 3.0
) -> ChartLimits:
    """Limits from known (standard) values instead of Phase I data.

    * ``xbar_r``/``xbar_s``: ``center`` = μ₀, ``sigma`` = σ₀, ``n`` = subgroup size(s) →
      X̄: μ₀ ± Aσ₀; R: d2σ₀ with D1σ₀/D2σ₀; S: c4σ₀ with B5σ₀/B6σ₀.
    * ``imr``: μ₀ ± 3σ₀; MR: d2(2)σ₀ with D1(2)σ₀/D2(2)σ₀ (``n`` is ignored).
    * ``p``: ``center`` = p₀ (fraction), ``n`` = sample size(s). ``np``: ``center`` = p₀ too,
      CL = n·p₀, constant n. ``c``: ``center`` = c₀. ``u``: ``center`` = u₀, ``n`` = units.

    ``n`` may be a sequence (per-point limits) except for np. EWMA and CUSUM take known values
    directly: ``ewma_limits(..., center=, sigma=)``, ``cusum(..., target=, sigma=)``.
    """
    L = _nsigma(nsigma)
    if chart_type not in ("xbar_r", "xbar_s", "imr", "p", "np", "c", "u"):
        raise ParameterError(
            f"standard-given limits are for xbar_r, xbar_s, imr, p, np, c, u; got {chart_type!r} "
            "(for ewma and cusum pass center=/target= and sigma= directly)"
        )
    c0 = V.finite(center, "center")
    sizes = _sizes_array(n, "i")  # positive; whole numbers are checked per statistic below
    secondary: Limits | None = None
    if chart_type in ("xbar_r", "xbar_s", "imr"):
        if sigma is None:
            raise ParameterError(f"sigma is required for standard-given {chart_type} limits")
        s0 = V.positive_finite(sigma, "sigma")
        given = f"μ₀ = {c0:g}, σ₀ = {s0:g}"
        if chart_type == "imr":
            primary = _mk("i", None, c0, s0, L, f"I, standard given: {given}", s0)
            secondary = _mk(
                "mr", None, None, s0, L, f"MR, standard given: CL = d2(2)σ₀, {given}", s0
            )
        else:
            for j, v in enumerate(sizes.tolist()):
                check_n(v, f"subgroup size n[{j}]")
            primary = _mk("xbar", sizes, c0, s0, L, f"X̄, standard given: {given}", s0)
            if chart_type == "xbar_r":
                secondary = _mk(
                    "r",
                    sizes,
                    None,
                    s0,
                    L,
                    f"R, standard given: CL = d2σ₀, limits D1σ₀, D2σ₀; {given}",
                    s0,
                )
            else:
                secondary = _mk(
                    "s",
                    sizes,
                    None,
                    s0,
                    L,
                    f"S, standard given: CL = c4σ₀, limits B5σ₀, B6σ₀; {given}",
                    s0,
                )
    elif chart_type in ("p", "np"):
        if not 0.0 < c0 < 1.0:
            raise ParameterError(f"p₀ must be strictly between 0 and 1, got {center!r}")
        if chart_type == "p":
            primary = _mk(
                "p", sizes, c0, None, L, f"p, standard given: p₀ = {c0:g}", math.sqrt(c0 * (1 - c0))
            )
        else:
            if sizes.size != 1 and not (sizes == sizes[0]).all():
                raise SubgroupSizeError("the np chart needs a constant sample size n")
            nn = float(sizes[0])
            if nn != math.floor(nn):
                raise InvalidCountError(f"the sample size n must be a whole number, got {nn:g}")
            s_np = math.sqrt(nn * c0 * (1.0 - c0))
            primary = _mk(
                "np",
                sizes[:1],
                nn * c0,
                s_np,
                L,
                f"np, standard given: p₀ = {c0:g}, n = {nn:g}",
                s_np,
            )
    elif chart_type == "c":
        if c0 <= 0:
            raise ParameterError(f"c₀ must be positive, got {center!r}")
        primary = _mk("c", None, c0, None, L, f"c, standard given: c₀ = {c0:g}", math.sqrt(c0))
    else:
        if c0 <= 0:
            raise ParameterError(f"u₀ must be positive, got {center!r}")
        primary = _mk("u", sizes, c0, None, L, f"u, standard given: u₀ = {c0:g}", math.sqrt(c0))
    return ChartLimits(
        primary,
        secondary,
        chart_type,
        (),
        None,
        None,
        None,
        _frozen_array(sizes) if chart_type not in ("imr", "c") else None,
    )


# ---------------------------------------------------------------------------------------
# EWMA
# ---------------------------------------------------------------------------------------


def _lam(lam: object) -> float:
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not 0.0 < float(lam) <= 1.0:
        raise ParameterError(f"λ (lam) must be in (0, 1], got {lam!r}")
    return float(lam)


def ewma_step(previous: float, value: float, lam: float) -> float:
    """One EWMA update ``λ·x + (1-λ)·previous`` — bit-identical to :func:`ewma_limits`."""
    return lam * value + (1.0 - lam) * previous


def _series_estimates(
    data: object, center: float | None, sigma: float | None, n: object, excluded: object, chart: str
) -> tuple[np.ndarray, float, float, int, np.ndarray, tuple[int, ...], str]:
    """Shared by EWMA and CUSUM: (points, center, σ, n, positions, excluded, how σ was found)."""
    if V.is_nested(data):
        sg = V.Subgroups(data, excluded)
        if sg.n is None and sg.k:
            raise SubgroupSizeError(f"the {chart} chart needs a constant subgroup size")
        if n not in (1, None) and sg.n is not None and int(n) != sg.n:
            raise ParameterError(f"n = {n} does not match the subgroup size {sg.n}")
        if sigma is None:
            fit = xbar_r_limits(data, excluded)
            sigma_v, how = fit.sigma, fit.method
        else:
            sg.validate("subgroup", chart)
            sigma_v, how = V.positive_finite(sigma, "sigma"), "σ given"
        means, _ = sg.reduce("r")
        center_v = float(means.mean()) if center is None else V.finite(center, "center")
        how = f"{'given' if center is not None else 'grand mean'}; {how}"
        return means, center_v, sigma_v, int(sg.n), sg.positions, sg.excluded, how
    x, positions, excl, _ = V.kept_float_1d(data, excluded, "value")
    nn = 1 if n is None else n
    if isinstance(nn, bool) or not isinstance(nn, numbers.Real) or nn < 1 or float(nn) != int(nn):
        raise ParameterError(f"n must be a positive whole number, got {n!r}")
    nn = int(nn)
    if sigma is None:
        if nn != 1:
            raise ParameterError(
                f"sigma is required when the values are subgroup means (n = {nn}); "
                "or pass the subgroups themselves"
            )
        fit = imr_limits(data, excluded)
        sigma_v, how = fit.sigma, fit.method
    else:
        V.require_count(x.size, 1, "value", len(excl))
        V.check_finite(x, "value", positions)
        sigma_v, how = V.positive_finite(sigma, "sigma"), "σ given"
    center_v = float(x.mean()) if center is None else V.finite(center, "center")
    how = f"{'given' if center is not None else 'mean of the points'}; {how}"
    return x, center_v, sigma_v, nn, positions, excl, how


def ewma_limits(
    data: object,
    lam: float,
    L: float,  # noqa: N803 - conventional symbol
    center: float | None = None,
    sigma: float | None = None,
    n: int = 1,
    excluded: object = None,
) -> ChartLimits:
    """EWMA chart with exact time-varying limits.

    ``data``: individual values, subgroup means (then pass ``n`` and ``sigma``) or the
    subgroups themselves (n and, if not given, σ = R̄/d2(n) and the grand mean are taken from
    them). Without ``sigma``, individual values use σ = MR̄/d2(2); without ``center``, the
    mean of the kept points. For Phase II, pass the Phase I ``center`` and ``sigma``.

    ``E₀ = center``, ``Eᵢ = λxᵢ + (1-λ)Eᵢ₋₁``; limits ``center ± L·σ/√n·√(λ/(2-λ)(1-(1-λ)^(2i)))``
    with i the 1-based position among the kept points. ``primary_values`` is the EWMA series.
    """
    lam_v = _lam(lam)
    L_v = V.positive_finite(L, "L")
    x, c0, s0, nn, positions, excl, how = _series_estimates(
        data, center, sigma, n, excluded, "EWMA"
    )
    e = np.empty(x.size)
    prev = c0
    one_minus = 1.0 - lam_v
    for j, v in enumerate(x.tolist()):
        prev = lam_v * v + one_minus * prev
        e[j] = prev
    i = np.arange(1, x.size + 1, dtype=float)
    sd = s0 / math.sqrt(nn) * np.sqrt(lam_v / (2.0 - lam_v) * (1.0 - one_minus ** (2.0 * i)))
    method = (
        f"EWMA λ = {lam_v:g}, L = {L_v:g}: exact time-varying limits "
        f"center ± L·σ/√n·√(λ/(2-λ)(1-(1-λ)^2i)); center {how}"
    )
    lim = Limits(
        c0, _freeze(c0 + L_v * sd), _freeze(c0 - L_v * sd), s0, _freeze(sd), method, "ewma", L_v
    )
    return ChartLimits(
        lim,
        None,
        "ewma",
        excl,
        _frozen_array(positions, np.intp),
        _frozen_array(e),
        _frozen_array(x),
        None,
        MappingProxyType({"lam": lam_v, "L": L_v, "n": float(nn)}),
    )


def ewma_signals(chart: ChartLimits) -> list[RuleFiring]:
    """Points whose EWMA lies strictly outside its time-varying limits, as rule-1 firings.

    Indices are positions in the charted (kept) series, like every rule firing.
    """
    if chart.chart_type != "ewma" or chart.primary_values is None:
        raise ParameterError("ewma_signals needs the result of ewma_limits")
    e = chart.primary_values
    out = np.flatnonzero((e > chart.primary.ucl) | (e < chart.primary.lcl))
    return [RuleFiring(1, i, (i,)) for i in out.tolist()]


# ---------------------------------------------------------------------------------------
# CUSUM
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CusumResult:
    """Tabular CUSUM. ``upper``/``lower`` are C⁺ and C⁻ (both ≥ 0), ``upper_run``/
    ``lower_run`` the number of consecutive periods each has been non-zero (Montgomery's N⁺,
    N⁻). ``signals_upper``/``signals_lower``: indices where C⁺ > H / C⁻ > H. ``K = kσ_x``,
    ``H = hσ_x`` in data units, ``sigma_point = σ/√n``.
    """

    upper: np.ndarray
    lower: np.ndarray
    upper_run: np.ndarray
    lower_run: np.ndarray
    signals_upper: np.ndarray
    signals_lower: np.ndarray
    k: float
    h: float
    K: float
    H: float
    target: float
    sigma: float
    sigma_point: float
    n: int
    method: str
    excluded_indices: tuple[int, ...] = ()
    included_indices: np.ndarray | None = None
    chart_type: str = "cusum"

    @property
    def signals(self) -> np.ndarray:
        """Sorted indices where either sum exceeds H."""
        return np.union1d(self.signals_upper, self.signals_lower)

    def firings(self) -> list[RuleFiring]:
        return cusum_signals(self)


def cusum_step(
    upper: float,
    lower: float,
    value: float,
    target: float,
    K: float,  # noqa: N803
) -> tuple[float, float]:
    """One tabular-CUSUM update (K in data units) — identical to :func:`cusum`."""
    return max(0.0, value - (target + K) + upper), max(0.0, (target - K) - value + lower)


def cusum(
    values: object,
    k: float = 0.5,
    h: float = 5.0,
    target: float | None = None,
    sigma: float | None = None,
    n: int = 1,
    excluded: object = None,
    headstart: float = 0.0,
) -> CusumResult:
    """Tabular CUSUM for small sustained shifts (Montgomery §9.1).

    ``C⁺ᵢ = max(0, xᵢ - (T + K) + C⁺ᵢ₋₁)``, ``C⁻ᵢ = max(0, (T - K) - xᵢ + C⁻ᵢ₋₁)``, with
    ``K = k·σ_x``, ``H = h·σ_x`` (k and h in σ units; ``σ_x = σ/√n`` for subgroup means) and
    ``C₀ = headstart·σ_x`` (FIR; 0 by default). A signal is ``C > H`` (strict). The sums are not
    reset after a signal. ``values`` may be individual values, subgroup means (pass n and
    sigma) or subgroups; without target/sigma they are estimated like :func:`ewma_limits`.
    """
    k_v = V.finite(k, "k")
    if k_v < 0:
        raise ParameterError(f"k must be ≥ 0, got {k!r}")
    h_v = V.positive_finite(h, "h")
    hs = V.finite(headstart, "headstart")
    if hs < 0:
        raise ParameterError(f"headstart must be ≥ 0, got {headstart!r}")
    x, t0, s0, nn, positions, excl, how = _series_estimates(
        values, target, sigma, n, excluded, "CUSUM"
    )
    sx = s0 / math.sqrt(nn)
    K = k_v * sx
    H = h_v * sx
    m = x.size
    up = np.empty(m)
    lo = np.empty(m)
    upn = np.empty(m, dtype=np.intp)
    lon = np.empty(m, dtype=np.intp)
    cp = cm = hs * sx
    np_ = nm = 0
    hi_ref = t0 + K
    lo_ref = t0 - K
    for j, v in enumerate(x.tolist()):
        cp = max(0.0, v - hi_ref + cp)
        cm = max(0.0, lo_ref - v + cm)
        np_ = np_ + 1 if cp > 0.0 else 0
        nm = nm + 1 if cm > 0.0 else 0
        up[j] = cp
        lo[j] = cm
        upn[j] = np_
        lon[j] = nm
    method = (
        f"tabular CUSUM: k = {k_v:g}, h = {h_v:g} (K = kσ_x, H = hσ_x, σ_x = σ/√n); target {how}"
    )
    return CusumResult(
        _frozen_array(up),
        _frozen_array(lo),
        _frozen_array(upn, np.intp),
        _frozen_array(lon, np.intp),
        _frozen_array(np.flatnonzero(up > H), np.intp),
        _frozen_array(np.flatnonzero(lo > H), np.intp),
        k_v,
        h_v,
        K,
        H,
        t0,
        s0,
        sx,
        nn,
        method,
        excl,
        _frozen_array(positions, np.intp),
    )


def cusum_signals(result: CusumResult) -> list[RuleFiring]:
    """CUSUM signals as rule-1 firings; ``points`` run from the start of the current non-zero
    stretch of the sum that signalled (Montgomery's N counter: where the shift began) to the
    signalling point. If both sums signal at once, their points are merged."""
    firings = []
    up = set(result.signals_upper.tolist())
    lo = set(result.signals_lower.tolist())
    for i in sorted(up | lo):
        start = i + 1
        if i in up:
            start = min(start, i - int(result.upper_run[i]) + 1)
        if i in lo:
            start = min(start, i - int(result.lower_run[i]) + 1)
        firings.append(RuleFiring(1, i, tuple(range(start, i + 1))))
    return firings


# ---------------------------------------------------------------------------------------
# Dispatcher
# ---------------------------------------------------------------------------------------

_DISPATCH: dict[str, Callable[..., object]] = {
    "xbar_r": xbar_r_limits,
    "xbar_s": xbar_s_limits,
    "imr": imr_limits,
    "p": p_limits,
    "np": np_limits,
    "c": c_limits,
    "u": u_limits,
    "ewma": ewma_limits,
    "cusum": cusum,
}


def calculate_limits(chart_type: str, data: object, **params: object) -> ChartLimits | CusumResult:
    """Dispatch to the limit function of ``chart_type`` (one of :data:`CHART_TYPES`).

    ``data`` is the first argument of that function (subgroups, values or counts) and
    ``params`` its keyword arguments, e.g. ``calculate_limits("p", counts, sizes=n)``,
    ``calculate_limits("ewma", values, lam=0.2, L=2.7)``. Returns :class:`ChartLimits`
    (:class:`CusumResult` for ``"cusum"``).
    """
    fn = _DISPATCH.get(chart_type)
    if fn is None:
        raise ParameterError(
            f"unknown chart type {chart_type!r}; expected one of {', '.join(CHART_TYPES)}"
        )
    try:
        inspect.signature(fn).bind(data, **params)
    except TypeError as exc:
        raise ParameterError(f"invalid parameters for {chart_type} limits: {exc}") from None
    return fn(data, **params)
