"""Capability of attribute data: binomial (p, np charts) and Poisson (c, u charts).

Counts of defectives or defects have no specification limits to compare a spread with, so
Cp/Cpk do not apply; capability is the long-run rate the stable process produces, with exact
confidence intervals (as Minitab's Binomial and Poisson Capability Analysis and the AIAG SPC
manual report it):

* **Binomial** — ``p̄ = Σd/Σn`` (defectives over units inspected), as % defective and ppm,
  with the exact Clopper–Pearson 95 % interval ``[B(α/2; D, N−D+1), B(1−α/2; D+1, N−D)]``
  (the quantiles of beta distributions; R's ``binom.test``). The **process Z** is the standard
  normal quantile with the same tail: ``Z = Φ⁻¹(1 − p̄)`` (p̄ = 0.00135 is Z = 3, 3.4 ppm is
  Z = 4.5); its interval comes from the ends of p̄'s interval. Z is infinite, so ``None``, when
  p̄ = 0 or 1.
* **Poisson** — defects per unit ``DPU = ΣC/Σn`` (defects over inspection units), with the exact
  (Garwood) 95 % interval ``[G⁻¹(α/2; D), G⁻¹(1−α/2; D+1)] / Σn`` from the gamma distribution
  (R's ``poisson.test``); the mean defects per sample; the smallest and largest sample DPU; and
  the expected share of units with no defect, ``e^(−DPU)`` (Poisson yield).

Both take the counts and sizes of the samples (excluded samples left out by the caller) and
raise for fewer than one sample, NaN/inf, negative or fractional counts, non-positive sizes and
defectives above their sample size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import special

from . import _validate as V

__all__ = ["BinomialCapability", "PoissonCapability", "binomial_capability",
           "poisson_capability"]

#: two-sided confidence level of every interval here
CONFIDENCE = 0.95
_ALPHA = 1.0 - CONFIDENCE


@dataclass(frozen=True)
class BinomialCapability:
    """Result of :func:`binomial_capability`: the fraction defective and what it means."""

    samples: int
    inspected: int
    defectives: int
    p: float
    p_ci95: tuple[float, float]
    percent_defective: float
    percent_defective_ci95: tuple[float, float]
    ppm: float
    ppm_ci95: tuple[float, float]
    process_z: float | None
    process_z_ci95: tuple[float | None, float | None]
    min_p: float
    max_p: float
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PoissonCapability:
    """Result of :func:`poisson_capability`: defects per unit and what it means."""

    samples: int
    units: float
    defects: int
    dpu: float
    dpu_ci95: tuple[float, float]
    mean_defects: float
    mean_defects_ci95: tuple[float, float]
    min_dpu: float
    max_dpu: float
    yield_percent: float
    warnings: tuple[str, ...] = ()


def _process_z(p: float) -> float | None:
    return float(special.ndtri(1.0 - p)) if 0.0 < p < 1.0 else None


def binomial_capability(defectives: object, sizes: object) -> BinomialCapability:
    """Binomial capability from each sample's number of defectives and its sample size
    (``sizes`` may be one number for all)."""
    d, n, positions, _ = V.attribute_inputs(defectives, sizes, None, "sample size", True, 1)
    V.check_not_above(d, n, positions)
    total_d, total_n = int(d.sum()), int(n.sum())
    p = total_d / total_n
    lower = float(special.betaincinv(total_d, total_n - total_d + 1, _ALPHA / 2)) \
        if total_d > 0 else 0.0
    upper = float(special.betaincinv(total_d + 1, total_n - total_d, 1 - _ALPHA / 2)) \
        if total_d < total_n else 1.0
    warnings = []
    if total_d == 0:
        warnings.append(f"no defectives in {total_n} inspected: the process Z is infinite; "
                        "the upper end of the interval says how bad the process may still be")
    elif total_d == total_n:
        warnings.append("every unit inspected was defective: the process Z is −infinity")
    elif min(total_d, total_n - total_d) < 5:
        few = f"{total_d} defective" if total_d < 5 else f"{total_n - total_d} good unit"
        warnings.append(f"only {few}{'' if few.startswith('1 ') else 's'} in {total_n} "
                        "inspected: the estimate is rough — see how wide its interval is")
    return BinomialCapability(
        samples=int(d.size), inspected=total_n, defectives=total_d,
        p=p, p_ci95=(lower, upper),
        percent_defective=100 * p, percent_defective_ci95=(100 * lower, 100 * upper),
        ppm=1e6 * p, ppm_ci95=(1e6 * lower, 1e6 * upper),
        process_z=_process_z(p), process_z_ci95=(_process_z(upper), _process_z(lower)),
        min_p=float((d / n).min()), max_p=float((d / n).max()),
        warnings=tuple(warnings),
    )


def poisson_capability(defects: object, units: object) -> PoissonCapability:
    """Poisson capability from each sample's number of defects and its inspection units
    (``units`` may be one number for all; units need not be whole, e.g. square metres)."""
    c, n, _, _ = V.attribute_inputs(defects, units, None, "inspection unit", False, 1)
    total_c, total_u, k = int(c.sum()), float(n.sum()), int(c.size)
    lower = float(special.gammaincinv(total_c, _ALPHA / 2)) if total_c > 0 else 0.0
    upper = float(special.gammaincinv(total_c + 1, 1 - _ALPHA / 2))
    dpu = total_c / total_u
    warnings = []
    if total_c == 0:
        warnings.append(f"no defects in {total_u:g} units: DPU is 0; the upper end of its "
                        "interval says how bad the process may still be")
    return PoissonCapability(
        samples=k, units=total_u, defects=total_c,
        dpu=dpu, dpu_ci95=(lower / total_u, upper / total_u),
        mean_defects=total_c / k, mean_defects_ci95=(lower / k, upper / k),
        min_dpu=float((c / n).min()), max_dpu=float((c / n).max()),
        yield_percent=100 * math.exp(-dpu),
        warnings=tuple(warnings),
    )
