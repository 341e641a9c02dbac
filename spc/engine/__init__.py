"""OpenSPC statistical engine: pure Python + numpy/scipy, no Django.

Modules
-------
* :mod:`.constants` — d2, d3, c4, A2, A3, D3, D4, B3, B4, E2 … for n = 2..MAX_N, computed.
* :mod:`.limits` — limits for X̄-R, X̄-S, I-MR, p, np, c, u, EWMA, CUSUM and standard-given
  charts; z-scores and limits for new (Phase II) points.
* :mod:`.rules` — Nelson rules 1–8 on z-scores, vectorised and incremental.
* :mod:`.capability` — Cp, Cpk, Pp, Ppk, Cpm, ppm, Cpk confidence interval, normality.
* :mod:`.attribute_capability` — binomial (% defective, ppm, process Z) and Poisson (DPU)
  capability with exact confidence intervals.
* :mod:`.errors` — the exceptions (all ``ValueError``).

Typical use::

    from spc import engine
    fit = engine.xbar_r_limits(subgroups, excluded=mask)   # Phase I
    z = fit.primary.z_scores(new_means, sizes=new_n)         # Phase II points
    firings = engine.evaluate_rules(z, rules={1, 2, 5})
    cap = engine.capability(values, usl=74.05, lsl=73.95, sigma_within=fit.sigma)
"""

from .attribute_capability import (
    BinomialCapability,
    PoissonCapability,
    binomial_capability,
    poisson_capability,
)
from .capability import Capability, anderson_darling, capability
from .constants import A2, A3, B3, B4, B5, B6, D1, D2, D3, D4, E2, MAX_N, A, c4, d2, d3
from .constants import table as constants_table
from .errors import (
    EngineError,
    InsufficientDataError,
    InvalidCountError,
    NonFiniteValueError,
    ParameterError,
    SpecificationError,
    SubgroupSizeError,
    ZeroVariationError,
)
from .limits import (
    CHART_TYPES,
    STATISTICS,
    ChartLimits,
    CusumResult,
    Limits,
    PointLimits,
    c_limits,
    calculate_limits,
    cusum,
    cusum_signals,
    cusum_step,
    ewma_limits,
    ewma_signals,
    ewma_step,
    imr_limits,
    np_limits,
    p_limits,
    point_limits,
    standard_given_limits,
    u_limits,
    xbar_limits_from_statistics,
    xbar_r_limits,
    xbar_s_limits,
    z_score,
    z_scores,
)
from .rules import (
    ALL,
    RULE_DESCRIPTIONS,
    RULES,
    WINDOW,
    RuleFiring,
    RuleWindow,
    evaluate_latest,
    evaluate_rules,
    evaluate_rules_arrays,
    firing_points,
)
from .series import clamped_sums, cusum_series, ewma_series, run_lengths

__all__ = [
    # constants
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
    "constants_table",
    # errors
    "EngineError",
    "InsufficientDataError",
    "InvalidCountError",
    "NonFiniteValueError",
    "ParameterError",
    "SpecificationError",
    "SubgroupSizeError",
    "ZeroVariationError",
    # limits
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
    # EWMA and CUSUM over a whole series
    "clamped_sums",
    "cusum_series",
    "ewma_series",
    "run_lengths",
    # rules
    "ALL",
    "RULES",
    "RULE_DESCRIPTIONS",
    "WINDOW",
    "RuleFiring",
    "RuleWindow",
    "evaluate_latest",
    "evaluate_rules",
    "evaluate_rules_arrays",
    "firing_points",
    # capability
    "Capability",
    "anderson_darling",
    "capability",
    "BinomialCapability",
    "PoissonCapability",
    "binomial_capability",
    "poisson_capability",
]
