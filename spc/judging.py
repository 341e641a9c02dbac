"""What a point is judged against, defined once for the pipeline (which judges and stores) and
the chart (which draws what was judged).

- **Established stage** (a limit version): the version's center and σ. Limits entered by hand
  may be asymmetric: the zones above the center are (UCL − CL)/3 wide, those below
  (CL − LCL)/3, and z is measured in the zone width of its own side.
- **Trial stage** (no limits established yet): each point is judged against the trial fit of
  the stage's kept points up to and including it, and the chart draws those per-point trial
  limits. The fit's running sums travel with the points (`fit_*` columns of the sample), so a
  new point costs the same at any history, and a batch gets the verdicts its samples would get
  one by one.
- **EWMA and CUSUM** carry their statistic from the kept point before (`ewma`, `cusum_*`), and
  their position in the stage (`stage_index`) for the EWMA's exact time-varying limits.
- `stage_index` counts the stage's kept points up to `index_cap`, where nothing judged depends
  on it any more (past the trial's first subgroups, and where the EWMA's limit factor is
  exactly 1): a point added or removed early in a long stage then changes the state of the
  points after it only until the statistic settles (spc.rejudge writes no further).

Everything here works on columns (numpy arrays) of kept rows in time order, so re-judging a
long stretch is vectorized; the EWMA and CUSUM recursions use spc.engine.series, which gives
the arithmetic of the engine's step functions for one point and for a million alike.
"""

import math
from dataclasses import dataclass

import numpy as np

from spc import engine
from spc.engine.constants import lookup
from spc.fitting import PRIMARY, SECONDARY
from spc.models import ChartType, ControlLimits, LimitSource

STATE_FIELDS = ("stage_index", "ewma", "cusum_upper", "cusum_lower", "cusum_upper_run",
                "cusum_lower_run", "fit_center_sum", "fit_center_weight", "fit_sigma_sum",
                "fit_sigma_weight")
SERIES = (ChartType.EWMA, ChartType.CUSUM)
_D2_2 = float(engine.d2(2))
PATTERN_MAX = 15  # the rule window: the longest pattern a point's violation names


def carries_state(ch, version) -> bool:
    """Whether the points of a stage carry state: the trial stage, and EWMA/CUSUM charts."""
    return version is None or ch.chart_type in SERIES


def _column(rows, name) -> np.ndarray:
    """One field of the rows: a list of evaluation.Row, or an object holding columns."""
    if isinstance(rows, list | tuple):
        return np.array([getattr(r, name) for r in rows], dtype=float)
    return np.asarray(getattr(rows, name), dtype=float)


def _cumulative(start: float, increments: np.ndarray) -> np.ndarray:
    """start + running sum of the increments, added one after the other (as a point at a time)."""
    return np.cumsum(np.concatenate(([start], increments)))[1:]


# ------------------------------------------------------------------------------------------
# The trial fit's running sums
# ------------------------------------------------------------------------------------------


def _fit_increments(ch, rows, before) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row: (center numerator, center weight, σ numerator, σ weight) it adds to the trial
    fit — the same estimators as the engine's Phase I fit (spc.fitting), as running sums:
    individuals: x̄ and MR̄/d2(2); X̄-R / X̄-S: the n-weighted grand mean and the pooled
    minimum-variance σ (Σwᵢ·Rᵢ/d2(nᵢ) / Σwᵢ, wᵢ = (d2/d3)², or with sᵢ/c4 and hᵢ = c4²/(1−c4²));
    p, np, u: Σcount / Σn; c: mean count."""
    kind = ch.chart_type
    n = _column(rows, "n")
    ones = np.ones(n.size)
    zeros = np.zeros(n.size)
    if ch.is_attribute:
        counts = _column(rows, "count")
        weight = ones if kind == ChartType.C else n
        return counts, weight, zeros, zeros
    means = _column(rows, "mean")
    if kind in (ChartType.XBAR_R, ChartType.XBAR_S):
        ni = n.astype(np.intp)
        if kind == ChartType.XBAR_R:
            d2, d3 = lookup("d2", ni), lookup("d3", ni)
            w = (d2 / d3) ** 2
            term = w * _column(rows, "range") / d2
        else:
            c4 = lookup("c4", ni)
            w = c4 * c4 / (1.0 - c4 * c4)
            term = w * _column(rows, "sd") / c4
        return n * means, n, term, w
    previous = np.concatenate(([before.mean if before is not None else np.nan], means[:-1]))
    mr = np.abs(means - previous)
    has = np.isfinite(mr)
    return means, ones, np.where(has, mr, 0.0), has.astype(float)


def _trial_center_sigma(ch, state) -> tuple[np.ndarray, np.ndarray]:
    """(center, σ) of the trial fit at each point, from its running sums; NaN where the fit
    cannot be made yet (fewer than 2 points, no variation, p̄ at 0 or 1)."""
    kind = ch.chart_type
    with np.errstate(divide="ignore", invalid="ignore"):
        center = state["fit_center_sum"] / state["fit_center_weight"]
        if kind in (ChartType.P, ChartType.NP):
            p = center
            usable = (p > 0) & (p < 1)
            if kind == ChartType.NP:
                n = float(ch.subgroup_size)
                center, sigma = n * p, np.sqrt(n * p * (1 - p))
            else:
                sigma = np.sqrt(p * (1 - p))
        elif kind in (ChartType.C, ChartType.U):
            usable = center > 0
            sigma = np.sqrt(center)
        else:
            sigma = state["fit_sigma_sum"] / state["fit_sigma_weight"]
            if kind not in (ChartType.XBAR_R, ChartType.XBAR_S):
                sigma = sigma / _D2_2
            usable = sigma > 0
            if kind in SERIES and ch.target is not None:
                center = np.full(center.size, float(ch.target))
    usable &= state["stage_index"] >= 2
    return np.where(usable, center, np.nan), np.where(usable, sigma, np.nan)


# ------------------------------------------------------------------------------------------
# Carrying the state forward
# ------------------------------------------------------------------------------------------


def read_fields(ch) -> tuple[str, ...]:
    """The sample columns judging a point of this chart reads (spc.evaluation.COLUMN_FIELDS)."""
    if ch.is_attribute:
        return ("id", "n", "count")
    spread = {ChartType.XBAR_R: ("range",), ChartType.XBAR_S: ("sd",)}.get(ch.chart_type, ())
    return ("id", "n", "mean", *spread)


_UNCOUNTED = 2**62  # a position no stage reaches: the count never stops


def index_cap(ch, version) -> int:
    """Where `stage_index` stops counting: the first position from which no verdict depends on
    it — past the trial's first subgroups (`trial_min_subgroups`, and 2 for a fit) and, on an
    EWMA chart, once the factor 1 − (1 − λ)²ⁱ of its time-varying limits is exactly 1 in
    floating point ((1 − λ)²ⁱ ≤ 2⁻⁶⁰, far below the rounding of 1). The count stops there so
    that a point added or removed early in a long stage changes the carried state of the points
    after it only until the statistic itself settles, not all the way to the stage's end."""
    cap = max(2, int(ch.trial_min_subgroups or 0))
    if ch.chart_type == ChartType.EWMA:
        lam = float(ch.ewma_lambda)
        if lam == 1.0:
            return cap
        if not 0.0 < lam < 1.0:
            return _UNCOUNTED
        cap = max(cap, math.ceil(30.0 * math.log(2.0) / -math.log1p(-lam)) + 1)
    return cap


def _carried(before, name: str, default: float) -> float:
    """A carried number of the kept row before, or `default` where there is none."""
    value = getattr(before, name) if before is not None else None
    return default if value is None or value != value else float(value)


def advance(ch, version: ControlLimits | None, before, rows) -> dict[str, np.ndarray]:
    """The state columns of `rows` (kept rows of one stage in time order) continuing from
    `before`, the kept row just before them in the stage (None at the stage's start). Empty for
    an established Shewhart chart, which carries nothing."""
    if not carries_state(ch, version) or not len(rows):
        return {}
    m = len(rows)
    start = int(_carried(before, "stage_index", 0.0))
    index = np.minimum(start + np.arange(1, m + 1, dtype=float), float(index_cap(ch, version)))
    state = {"stage_index": index}
    if version is None:
        for name, inc in zip(("fit_center_sum", "fit_center_weight", "fit_sigma_sum",
                              "fit_sigma_weight"), _fit_increments(ch, rows, before), strict=True):
            state[name] = _cumulative(_carried(before, name, 0.0), inc)
    if ch.chart_type not in SERIES:
        return state
    center, sigma = centers_and_sigmas(ch, version, state)
    x = _column(rows, "mean")
    if ch.chart_type == ChartType.EWMA:
        state["ewma"] = _ewma(float(ch.ewma_lambda), _carried(before, "ewma", math.nan), x,
                              center)
        return state
    sx = sigma / math.sqrt(max(ch.subgroup_size, 1))
    state.update(zip(("cusum_upper", "cusum_lower", "cusum_upper_run", "cusum_lower_run"),
                     _cusum(ch, before, x, center, sx), strict=True))
    return state


def _ewma(lam: float, previous: float, x: np.ndarray, center: np.ndarray) -> np.ndarray:
    """The EWMA of each point from the one before; E₀ = the center in force at the stage's first
    point that has one (NaN before it)."""
    e = np.full(x.size, np.nan)
    first = 0
    if not math.isfinite(previous):
        known = np.flatnonzero(np.isfinite(center))
        if not known.size:
            return e
        first, previous = int(known[0]), float(center[known[0]])
    e[first:] = engine.ewma_series(previous, x[first:], lam)
    if not np.isfinite(e[first:]).all():  # overflowed: restart as one step at a time would
        return _ewma_stepwise(lam, previous, x, center, first)
    return e


def _ewma_stepwise(lam, previous, x, center, first) -> np.ndarray:
    e = np.full(x.size, np.nan)
    prev = previous
    for j in range(first, x.size):
        if not math.isfinite(prev):
            prev = float(center[j])
        prev = engine.ewma_step(prev, float(x[j]), lam) if math.isfinite(prev) else math.nan
        e[j] = prev
    return e


def _cusum(ch, before, x, center, sx) -> tuple[np.ndarray, ...]:
    """C⁺, C⁻ and their run lengths at each point, carried unchanged over points without a
    target or σ (early in the trial stage)."""
    carried = (_carried(before, "cusum_upper", 0.0), _carried(before, "cusum_lower", 0.0),
               _carried(before, "cusum_upper_run", 0.0), _carried(before, "cusum_lower_run", 0.0))
    ok = np.isfinite(center) & np.isfinite(sx)
    found = engine.cusum_series(carried[0], carried[1], int(carried[2]), int(carried[3]),
                                x[ok], center[ok], float(ch.cusum_k) * sx[ok])
    if ok.all():
        return tuple(np.asarray(f, dtype=float) for f in found)
    latest = np.maximum.accumulate(np.where(ok, np.cumsum(ok) - 1, -1))  # into x[ok]
    return tuple(np.where(latest >= 0, np.asarray(f, dtype=float)[np.maximum(latest, 0)], c)
                 if f.size else np.full(x.size, c) for f, c in zip(found, carried, strict=True))


def state_of(rows) -> dict[str, np.ndarray]:
    """The stored state columns of rows read from the database."""
    return {name: _column(rows, name) for name in STATE_FIELDS}


# ------------------------------------------------------------------------------------------
# Limits in force and z
# ------------------------------------------------------------------------------------------


def version_sigmas(ch, version: ControlLimits) -> tuple[float, float]:
    """(σ above the center, σ below it) of a version: equal, but for limits entered by hand
    as an asymmetric UCL/LCL pair, whose zones are (UCL − CL)/3 and (CL − LCL)/3 wide."""
    entered = ((version.options or {}).get("entered") or {}) \
        if version.source == LimitSource.MANUAL else {}
    statistic = PRIMARY[ch.chart_type]
    if entered.get("ucl") is None or entered.get("lcl") is None or \
            statistic not in ("xbar", "i", "np"):
        return version.sigma, version.sigma
    scale = math.sqrt(version.subgroup_size) if statistic == "xbar" else 1.0
    return ((entered["ucl"] - version.center) / 3 * scale,
            (version.center - entered["lcl"]) / 3 * scale)


def centers_and_sigmas(ch, version, state) -> tuple[np.ndarray, np.ndarray]:
    """(center, process σ) in force at each point: the version's, or the trial fit's."""
    if version is not None:
        m = state["stage_index"].size
        return np.full(m, version.center), np.full(m, version.sigma)
    return _trial_center_sigma(ch, state)


@dataclass
class Verdicts:
    """Per kept point of a stage: the plotted value, the limits drawn at it, its z (NaN: not
    judged) and the process σ in force (for the secondary chart); EWMA/CUSUM: `beyond` marks
    the points outside their limits, CUSUM adds C⁺, C⁻ and their run lengths."""

    value: np.ndarray
    center: np.ndarray
    ucl: np.ndarray
    lcl: np.ndarray
    z: np.ndarray
    sigma: np.ndarray
    stage_index: np.ndarray | None = None  # position among the stage's kept points (trial,
    # EWMA, CUSUM); None for an established Shewhart chart
    beyond: np.ndarray | None = None
    upper: np.ndarray | None = None
    lower: np.ndarray | None = None
    upper_run: np.ndarray | None = None
    lower_run: np.ndarray | None = None


def plotted_values(ch, rows) -> tuple[np.ndarray, np.ndarray]:
    """(primary plotted statistic, sample size) of each row."""
    n = _column(rows, "n")
    if ch.is_attribute:
        counts = _column(rows, "count")
        return (counts / n if ch.chart_type in (ChartType.P, ChartType.U) else counts), n
    return _column(rows, "mean"), n


def _sd(statistic: str, center, sigma, n):
    """σ of the plotted statistic at each point, as engine.point_limits defines it."""
    if statistic == "xbar":
        return sigma / np.sqrt(n)
    if statistic in ("i", "np"):
        return sigma
    if statistic == "p":
        return np.sqrt(center * (1 - center) / n)
    if statistic == "c":
        return np.sqrt(center)
    return np.sqrt(center / n)  # u


def verdicts(ch, version, rows, state) -> Verdicts:
    """The limits in force at each of `rows` (kept rows of one stage) and their z, from the
    version, or from each point's own trial fit (`state`)."""
    kind = ch.chart_type
    m = len(rows)
    values, n = plotted_values(ch, rows)
    center, sigma = centers_and_sigmas(ch, version, state) if state else \
        (np.full(m, version.center), np.full(m, version.sigma))
    index = state.get("stage_index")
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind in SERIES:
            out = _series_verdicts(ch, rows, state, center, sigma)
            out.stage_index = index
            return out
        statistic = PRIMARY[kind]
        if version is not None:
            up, down = version_sigmas(ch, version)
        else:
            up = down = sigma
        sd_up, sd_down = _sd(statistic, center, up, n), _sd(statistic, center, down, n)
        ucl, lcl = center + 3 * sd_up, center - 3 * sd_down
        if statistic in ("p", "np", "c", "u"):
            lcl = np.maximum(lcl, 0.0)
        if statistic == "p":
            ucl = np.minimum(ucl, 1.0)
        elif statistic == "np":
            ucl = np.minimum(ucl, n)
        diff = values - center
        z = np.where(diff >= 0, diff / sd_up, diff / sd_down)
    z = _judged_z(z)
    return Verdicts(values, _full(center, m), _full(ucl, m), _full(lcl, m), z, _full(sigma, m),
                    stage_index=index)


def _judged_z(z: np.ndarray) -> np.ndarray:
    """z as the rules read it: NaN where the point has no limits; a z that overflowed (a huge
    deviation against a tiny σ) stays a huge number of its sign, so it is still beyond."""
    return np.where(np.isnan(z), np.nan, np.clip(z, -1e300, 1e300))


def _full(x, m):
    return np.array(np.broadcast_to(np.asarray(x, dtype=float), (m,)), dtype=float)


def _series_verdicts(ch, rows, state, center, sigma) -> Verdicts:
    m = len(rows)
    x = _column(rows, "mean")
    sx = sigma / math.sqrt(max(ch.subgroup_size, 1))
    if ch.chart_type == ChartType.EWMA:
        lam, L = float(ch.ewma_lambda), float(ch.ewma_l)
        i = state["stage_index"]
        sd = sx * np.sqrt(lam / (2.0 - lam) * (1.0 - (1.0 - lam) ** (2.0 * i)))
        e = state["ewma"]
        ucl, lcl = center + L * sd, center - L * sd
        z = (e - center) / sd
        beyond = (e > ucl) | (e < lcl)
        return Verdicts(e, center, ucl, lcl, _judged_z(z), sigma,
                        beyond=beyond)
    H = float(ch.cusum_h) * sx
    up, lo = state["cusum_upper"], state["cusum_lower"]
    z = (x - center) / sx
    return Verdicts(np.full(m, np.nan), np.zeros(m), H, -H,
                    _judged_z(z), sigma,
                    beyond=(up > H) | (lo > H), upper=up, lower=lo,
                    upper_run=state["cusum_upper_run"], lower_run=state["cusum_lower_run"])


# ------------------------------------------------------------------------------------------
# Rule firings
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Firing:
    index: int  # into the rows judged
    rule: int
    points: tuple[int, ...]  # indices into the rows
    chart: str = "primary"


def firings(ch, version, rows, v: Verdicts, first: int, rules: set[int]) -> list[Firing]:
    """Rule firings at rows[first:], the rows before serving as their window. In the trial
    stage a point is judged once the stage holds `trial_min_subgroups` kept points."""
    m = len(rows)
    if not rules or first >= m:
        return []
    judged_from = first
    judged = v.stage_index >= ch.trial_min_subgroups if version is None \
        else np.ones(m, dtype=bool)
    out: list[Firing] = []
    if ch.chart_type in SERIES:
        if 1 in rules:
            for i in np.flatnonzero(v.beyond & judged).tolist():
                if i < judged_from:
                    continue
                if ch.chart_type == ChartType.CUSUM:
                    run = max(int(v.upper_run[i]) if v.upper[i] > v.ucl[i] else 0,
                              int(v.lower_run[i]) if v.lower[i] > v.ucl[i] else 0)
                    # the points since the sum left zero (Montgomery's N), at most the last
                    # PATTERN_MAX: a new point reads that many before it, whatever the history
                    start = max(i - min(run, PATTERN_MAX) + 1, 0)
                    out.append(Firing(i, 1, tuple(range(start, i + 1))))
                else:
                    out.append(Firing(i, 1, (i,)))
        return out
    finite = np.flatnonzero(np.isfinite(v.z))
    if finite.size:
        z = v.z[finite]
        if int(finite[-1]) == m - 1 and first == m - 1:
            found = engine.evaluate_latest(z, rules=rules)  # one new point: the incremental form
        else:
            found = engine.evaluate_rules(z, rules=rules)
        for f in found:
            i = int(finite[f.index])
            if i >= judged_from and judged[i]:
                out.append(Firing(i, f.rule, tuple(int(finite[p]) for p in f.points)))
    if 1 in rules and ch.chart_type in SECONDARY:
        for i in beyond_secondary(ch, rows, v.sigma).tolist():
            if i >= judged_from and judged[i]:
                out.append(Firing(i, 1, (i,), "secondary"))
    return out


def secondary_values(ch, rows) -> np.ndarray:
    """R, S or MR of each row; the first row's moving range is NaN (no predecessor here)."""
    if ch.chart_type == ChartType.XBAR_R:
        return _column(rows, "range")
    if ch.chart_type == ChartType.XBAR_S:
        return _column(rows, "sd")
    means = _column(rows, "mean")
    return np.concatenate([[np.nan], np.abs(np.diff(means))]) if means.size else means


def secondary_limits(ch, sigma: np.ndarray, n: np.ndarray):
    """(center, UCL, LCL) of the R, S or MR chart at each point for the process σ there."""
    statistic = SECONDARY[ch.chart_type]
    with np.errstate(invalid="ignore"):
        if statistic == "mr":
            d2, d3 = _D2_2, float(engine.d3(2))
            center, sd = d2 * sigma, d3 * sigma
        else:
            ni = n.astype(np.intp)
            if statistic == "r":
                center, sd = lookup("d2", ni) * sigma, lookup("d3", ni) * sigma
            else:
                c4 = lookup("c4", ni)
                center, sd = c4 * sigma, sigma * np.sqrt(1.0 - c4 * c4)
        return center, center + 3 * sd, np.maximum(center - 3 * sd, 0.0)


def beyond_secondary(ch, rows, sigma) -> np.ndarray:
    """Indices of rows whose R, S or MR lies beyond its 3σ limits (rule 1 on that chart)."""
    values = secondary_values(ch, rows)
    n = _column(rows, "n")
    _, ucl, lcl = secondary_limits(ch, np.broadcast_to(np.asarray(sigma, dtype=float),
                                                       values.shape), n)
    with np.errstate(invalid="ignore"):
        return np.flatnonzero((values > ucl) | (values < lcl))
