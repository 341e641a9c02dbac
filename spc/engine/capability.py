"""Process capability: Cp, Cpk, Pp, Ppk, Cpm, expected/observed ppm, Cpk CI, normality check.

Definitions (qcc / Montgomery; μ = mean of all values):

* σ within — the chart's estimator (pass ``sigma_within=chart.sigma``: R̄/d2, S̄/c4, MR̄/d2(2));
  σ overall — the sample standard deviation (n - 1) of all values. Without ``sigma_within``
  the Cp family uses σ overall (then Cp = Pp …) and :attr:`Capability.warnings` says so.
* ``Cp = (USL - LSL)/6σw``, ``Cpu = (USL - μ)/3σw``, ``Cpl = (μ - LSL)/3σw``,
  ``Cpk = min`` of the ones that exist; Pp, Ppu, Ppl, Ppk likewise with σ overall.
  With one specification limit only the one-sided indices exist (Cpk = Cpu or Cpl); indices
  that cannot exist are ``None``.
* ``Cpm = (USL - LSL) / (6 √(σw² + (μ - T)²)) = Cp/√(1 + ((μ - T)/σw)²)`` (Taguchi); needs both
  limits; the target T defaults to their midpoint. ``cpm_overall`` is the same with σ overall
  (qcc's "Ppm" — renamed so it is not confused with parts per million).
* Expected ppm outside each limit from the normal distribution N(μ, σw²)
  (``ppm_below_lsl``, ``ppm_above_usl``, ``ppm_total``) and N(μ, σo²) (``*_overall``);
  observed ppm from the fraction of values strictly beyond each limit.
* 95 % confidence interval for Cpk, Bissell (1990): ``Cpk ± 1.96 √(1/(9n) + Cpk²/(2(n-1)))``.
* Normality: Anderson–Darling A² against a normal with the sample mean and sd, the
  Stephens / D'Agostino small-sample adjustment ``A* = A²(1 + 0.75/n + 2.25/n²)`` and the
  piecewise p-value of D'Agostino & Stephens (1986), Table 4.9 (as R's ``nortest::ad.test``,
  including its p = 3.7e-24 for A* ≥ 10). ``normal`` is ``p ≥ 0.05``. Needs n ≥ 8; below that
  the test is not run (``None``) and a warning says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from . import _validate as V
from .errors import (
    InsufficientDataError,
    ParameterError,
    SpecificationError,
    ZeroVariationError,
)

__all__ = ["Capability", "anderson_darling", "capability"]

#: z for the two-sided 95 % interval of the Bissell approximation, as specified.
_Z95 = 1.96
#: Smallest sample for the Anderson–Darling p-value approximation (as nortest::ad.test).
AD_MIN_N = 8


@dataclass(frozen=True)
class Capability:
    """Result of :func:`capability`. Indices that cannot be computed are ``None``."""

    n: int
    mean: float
    sigma_within: float
    sigma_overall: float
    sigma_within_source: str
    usl: float | None
    lsl: float | None
    target: float | None
    cp: float | None
    cpu: float | None
    cpl: float | None
    cpk: float | None
    cpm: float | None
    pp: float | None
    ppu: float | None
    ppl: float | None
    ppk: float | None
    cpm_overall: float | None
    ppm_below_lsl: float | None
    ppm_above_usl: float | None
    ppm_total: float | None
    ppm_below_lsl_overall: float | None
    ppm_above_usl_overall: float | None
    ppm_total_overall: float | None
    observed_ppm_below_lsl: float | None
    observed_ppm_above_usl: float | None
    observed_ppm_total: float | None
    cpk_ci95: tuple[float, float] | None
    anderson_darling: float | None
    anderson_darling_adjusted: float | None
    anderson_darling_p: float | None
    normal: bool | None
    warnings: tuple[str, ...] = ()


def _ad_pvalue(a_star: float) -> float:
    """D'Agostino & Stephens (1986) p-value for the adjusted A* (normal, μ and σ estimated)."""
    if a_star >= 10.0:
        return 3.7e-24
    if a_star >= 0.6:
        p = math.exp(1.2937 - 5.709 * a_star + 0.0186 * a_star * a_star)
    elif a_star >= 0.34:
        p = math.exp(0.9177 - 4.279 * a_star - 1.38 * a_star * a_star)
    elif a_star >= 0.2:
        p = 1.0 - math.exp(-8.318 + 42.796 * a_star - 59.938 * a_star * a_star)
    else:
        p = 1.0 - math.exp(-13.436 + 101.14 * a_star - 223.73 * a_star * a_star)
    return min(1.0, max(0.0, p))


def anderson_darling(values: object) -> tuple[float, float, float]:
    """Anderson–Darling normality test: ``(A², A*, p-value)``; needs at least 8 finite values."""
    x = V.as_float_1d(values, "value")
    V.check_finite(x, "value")
    n = x.size
    if n < AD_MIN_N:
        raise InsufficientDataError(
            f"the Anderson–Darling test needs at least {AD_MIN_N} values, got {n}"
        )
    s = float(x.std(ddof=1))
    if not s > 0:
        raise ZeroVariationError(f"all {n} values are equal: normality cannot be tested")
    y = np.sort((x - x.mean()) / s)
    i = np.arange(1, n + 1)
    # ln Φ(y_i) + ln(1 - Φ(y_{n+1-i})) with log_ndtr for accuracy in the tails
    terms = (2 * i - 1) * (special.log_ndtr(y) + special.log_ndtr(-y[::-1]))
    a2 = float(-n - terms.sum() / n)
    a_star = a2 * (1.0 + 0.75 / n + 2.25 / (n * n))
    return a2, a_star, _ad_pvalue(a_star)


def _opt(x: object, name: str) -> float | None:
    return None if x is None else V.finite(x, name)


def capability(
    values: object,
    usl: float | None = None,
    lsl: float | None = None,
    target: float | None = None,
    sigma_within: float | None = None,
) -> Capability:
    """Capability of a process from its individual values (subgroups are flattened).

    ``sigma_within`` should be the σ of the control chart (``ChartLimits.sigma``).
    Raises for fewer than 2 values, NaN/inf, zero variation and USL ≤ LSL.
    """
    if V.is_nested(values):
        x = np.concatenate([V.as_float_1d(s, "value") for s in values])
    else:
        x = V.as_float_1d(values, "value")
    n = x.size
    if n < 2:
        raise InsufficientDataError(f"capability needs at least 2 values, got {n}")
    V.check_finite(x, "value")
    u = _opt(usl, "USL")
    lo = _opt(lsl, "LSL")
    t = _opt(target, "target")
    if u is not None and lo is not None and not u > lo:
        raise SpecificationError(f"USL ({u:g}) must be greater than LSL ({lo:g})")
    mean = float(x.mean())
    so = float(x.std(ddof=1))
    if not so > 0:
        raise ZeroVariationError(f"all {n} values are equal: capability is undefined (σ = 0)")
    warnings: list[str] = []
    if sigma_within is None:
        sw = so
        source = "overall"
        warnings.append("σ within not supplied: Cp, Cpk, Cpm and expected ppm use σ overall")
    else:
        sw = V.finite(sigma_within, "sigma_within")
        if sw == 0.0:
            raise ZeroVariationError("sigma_within is 0: capability is undefined")
        if sw < 0:
            raise ParameterError(f"sigma_within must be positive, got {sigma_within!r}")
        source = "given"
    if u is None and lo is None:
        warnings.append("no specification limits: no capability indices")
    if t is None and u is not None and lo is not None:
        t = (u + lo) / 2.0

    def family(s: float) -> tuple[float | None, ...]:
        up = (u - mean) / (3.0 * s) if u is not None else None
        dn = (mean - lo) / (3.0 * s) if lo is not None else None
        both = u is not None and lo is not None
        c = (u - lo) / (6.0 * s) if both else None
        k = (
            min(v for v in (up, dn) if v is not None)
            if (up is not None or dn is not None)
            else None
        )
        m = c / math.sqrt(1.0 + ((mean - t) / s) ** 2) if both and t is not None else None
        return c, up, dn, k, m

    cp, cpu, cpl, cpk, cpm = family(sw)
    pp, ppu, ppl, ppk, cpm_o = family(so)

    def ppm(s: float) -> tuple[float | None, float | None, float | None]:
        below = 1e6 * float(special.ndtr((lo - mean) / s)) if lo is not None else None
        above = 1e6 * float(special.ndtr((mean - u) / s)) if u is not None else None
        total = None if below is None and above is None else (below or 0.0) + (above or 0.0)
        return below, above, total

    ppm_b, ppm_a, ppm_t = ppm(sw)
    ppm_bo, ppm_ao, ppm_to = ppm(so)
    obs_b = 1e6 * float(np.count_nonzero(x < lo)) / n if lo is not None else None
    obs_a = 1e6 * float(np.count_nonzero(x > u)) / n if u is not None else None
    obs_t = None if obs_b is None and obs_a is None else (obs_b or 0.0) + (obs_a or 0.0)

    ci = None
    if cpk is not None:
        half = _Z95 * math.sqrt(1.0 / (9.0 * n) + cpk * cpk / (2.0 * (n - 1)))
        ci = (cpk - half, cpk + half)

    if n >= AD_MIN_N:
        a2, a_star, p = anderson_darling(x)
        normal: bool | None = p >= 0.05
        if not normal:
            warnings.append(
                f"Anderson–Darling p = {p:.3g} < 0.05: the data do not look normal, so "
                "normal-theory indices and expected ppm may be misleading"
            )
    else:
        a2 = a_star = p = None
        normal = None
        warnings.append(f"fewer than {AD_MIN_N} values: normality not assessed")

    return Capability(
        n=n,
        mean=mean,
        sigma_within=sw,
        sigma_overall=so,
        sigma_within_source=source,
        usl=u,
        lsl=lo,
        target=t,
        cp=cp,
        cpu=cpu,
        cpl=cpl,
        cpk=cpk,
        cpm=cpm,
        pp=pp,
        ppu=ppu,
        ppl=ppl,
        ppk=ppk,
        cpm_overall=cpm_o,
        ppm_below_lsl=ppm_b,
        ppm_above_usl=ppm_a,
        ppm_total=ppm_t,
        ppm_below_lsl_overall=ppm_bo,
        ppm_above_usl_overall=ppm_ao,
        ppm_total_overall=ppm_to,
        observed_ppm_below_lsl=obs_b,
        observed_ppm_above_usl=obs_a,
        observed_ppm_total=obs_t,
        cpk_ci95=ci,
        anderson_darling=a2,
        anderson_darling_adjusted=a_star,
        anderson_darling_p=p,
        normal=normal,
        warnings=tuple(warnings),
    )
