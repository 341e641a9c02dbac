"""Fitting control limits to stored samples with the engine, and what a fit stores.

`fit` takes samples in time order (already without the excluded ones) and returns the engine's
ChartLimits; `stored_limits` turns that into the fields of a ControlLimits version.
"""

from dataclasses import dataclass

import numpy as np

from spc import engine
from spc.models import Characteristic, ChartType

# The statistic plotted on the primary and secondary chart of each chart type.
PRIMARY = {
    ChartType.XBAR_R: "xbar", ChartType.XBAR_S: "xbar", ChartType.IMR: "i",
    ChartType.P: "p", ChartType.NP: "np", ChartType.C: "c", ChartType.U: "u",
    ChartType.EWMA: "ewma", ChartType.CUSUM: "cusum",
}
SECONDARY = {ChartType.XBAR_R: "r", ChartType.XBAR_S: "s", ChartType.IMR: "mr"}


@dataclass(frozen=True)
class Fit:
    """What a ControlLimits version stores about a fit."""

    center: float
    ucl: float
    lcl: float
    sigma: float
    subgroup_size: int
    method: str
    secondary_center: float | None = None
    secondary_ucl: float | None = None
    secondary_lcl: float | None = None


def fit(ch: Characteristic, samples) -> engine.ChartLimits | engine.CusumResult:
    """Fit the characteristic's chart to `samples` (objects with id, n, mean, count)."""
    kind = ch.chart_type
    if kind in (ChartType.XBAR_R, ChartType.XBAR_S):
        # the stored means, ranges / standard deviations and sizes give the same fit as the
        # raw values (tested in the engine), without reading every measurement back
        spread = "r" if kind == ChartType.XBAR_R else "s"
        return engine.xbar_limits_from_statistics(
            [s.mean for s in samples], [s.range if spread == "r" else s.sd for s in samples],
            [s.n for s in samples], kind=spread)
    means = np.array([s.mean for s in samples], dtype=float)
    if kind == ChartType.IMR:
        return engine.imr_limits(means)
    counts = np.array([s.count for s in samples], dtype=float)
    sizes = np.array([s.n for s in samples], dtype=float)
    if kind == ChartType.P:
        return engine.p_limits(counts, sizes)
    if kind == ChartType.NP:
        return engine.np_limits(counts, sizes)
    if kind == ChartType.C:
        return engine.c_limits(counts)
    if kind == ChartType.U:
        return engine.u_limits(counts, sizes)
    if kind == ChartType.EWMA:
        return engine.ewma_limits(means, lam=ch.ewma_lambda, L=ch.ewma_l, center=ch.target)
    return engine.cusum(means, k=ch.cusum_k, h=ch.cusum_h, target=ch.target)


def _scalar(x) -> float:
    return float(np.asarray(x, dtype=float).reshape(-1)[-1]) if np.ndim(x) else float(x)


def stored_limits(ch: Characteristic, result) -> Fit:
    """The center, σ and limits at the characteristic's subgroup size, for a ControlLimits row."""
    n = max(ch.subgroup_size, 1)
    if isinstance(result, engine.CusumResult):
        return Fit(center=result.target, ucl=result.H, lcl=-result.H, sigma=result.sigma,
                   subgroup_size=n, method=f"CUSUM: k = {result.k}, h = {result.h}")
    primary = result.primary
    center = _scalar(primary.center)
    if ch.chart_type == ChartType.EWMA:
        # the steady-state (asymptotic) EWMA limits; the chart draws the exact ones per point
        lam, L = ch.ewma_lambda, ch.ewma_l
        width = L * primary.sigma / np.sqrt(n) * np.sqrt(lam / (2 - lam))
        return Fit(center=center, ucl=center + width, lcl=center - width, sigma=primary.sigma,
                   subgroup_size=n, method=primary.method)
    statistic = PRIMARY[ch.chart_type]
    size = None if statistic in ("i", "c", "np") else n
    at_n = engine.point_limits(statistic, size if size is not None else None, center,
                               primary.sigma if statistic not in ("p", "u", "c") else None)
    out = {"center": center, "ucl": float(at_n.ucl[0]), "lcl": float(at_n.lcl[0]),
           "sigma": primary.sigma, "subgroup_size": n, "method": primary.method}
    secondary = SECONDARY.get(ch.chart_type)
    if secondary and result.secondary is not None:
        sec = engine.point_limits(secondary, n if secondary != "mr" else None, None, primary.sigma)
        out.update(secondary_center=float(sec.center[0]), secondary_ucl=float(sec.ucl[0]),
                   secondary_lcl=float(sec.lcl[0]))
    return Fit(**out)
