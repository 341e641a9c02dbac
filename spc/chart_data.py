"""The data of a characteristic's control chart: every point with the limits in force at it.

`chart_data` selects samples (the last N, or a time range; excluded samples included and
marked), splits them into the stages of `spc.evaluation` (the trial stage, then one stage per
limit version from its `effective_from` on), and computes per stage, vectorized with the engine:
the plotted statistic, the centre line and limits at each point (per point where n varies), the
z-score (as the rules judged it) and the secondary statistic (R, S or MR). The result is plain
JSON (floats, ints, ISO strings, lists, None).

Queries are bounded whatever the number of points: the samples (1), the limit versions (1), the
live violations (1); the trial stage's rows when a point lies in it (1, plus the measurements an
X̄ fit reads); for I-MR, EWMA and CUSUM, the stage's samples before the selection (1), so the
first moving range, the EWMA and the CUSUM sums continue exactly as the pipeline judged them.
"""

from bisect import bisect_right
from collections import defaultdict
from datetime import UTC, datetime

import numpy as np
from django.db.models import CharField
from django.db.models.functions import Cast

from spc import engine
from spc.evaluation import ROW_FIELDS, stage_rows, stages, trial_fit
from spc.fitting import PRIMARY, SECONDARY
from spc.models import Characteristic, ChartType, ControlLimits, Sample

SAMPLE_FIELDS = (*ROW_FIELDS, "excluded", "exclusion_reason")
_ID, _TS, _N, _MEAN, _RANGE, _SD, _COUNT, _EXCLUDED, _REASON = range(len(SAMPLE_FIELDS))
# Charts whose first point in the selection depends on the stage's points before it.
_NEEDS_PREFIX = {ChartType.IMR, ChartType.EWMA, ChartType.CUSUM}


def _as_datetime(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def select_samples(ch: Characteristic, fields=SAMPLE_FIELDS, last: int | None = None,
                   start: datetime | None = None, end: datetime | None = None) -> list[tuple]:
    """The samples of the selection in time order (excluded ones included), in one query.

    `start` and `end` are inclusive; `last` keeps the last N samples (of the range, if given);
    with neither, every sample of the characteristic.

    The timestamp is read as text and parsed with `datetime.fromisoformat`: Django's own
    conversion of timestamps (a Python-level loader per value on PostgreSQL, a regex parse on
    SQLite) was the largest single cost of a 10,000-point chart. Both backends hand over ISO
    8601 in UTC: PostgreSQL with an offset (Django sets the session to UTC; psycopg itself reads
    timestamps only with DateStyle ISO), SQLite naive, as Django stores it in UTC.
    """
    if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 0):
        raise ValueError(f"last must be a whole number ≥ 0, got {last!r}")
    qs = Sample.objects.filter(characteristic=ch)
    if start is not None:
        qs = qs.filter(timestamp__gte=start)
    if end is not None:
        qs = qs.filter(timestamp__lte=end)
    at = fields.index("timestamp") if "timestamp" in fields else None
    if at is None:
        return _fetch(qs, fields, last)
    as_text = (*fields[:at], "timestamp_text", *fields[at + 1:])
    rows = _fetch(qs.annotate(timestamp_text=Cast("timestamp", CharField())), as_text, last)
    return [(*r[:at], _as_datetime(r[at]), *r[at + 1:]) for r in rows]


def _fetch(qs, fields, last: int | None) -> list[tuple]:
    if last is None:
        return list(qs.order_by("timestamp", "id").values_list(*fields))
    rows = list(qs.order_by("-timestamp", "-id").values_list(*fields)[:last])
    rows.reverse()
    return rows


def _floats(a: np.ndarray) -> list:
    """A float array as a JSON list: NaN (no value) becomes None."""
    a = np.asarray(a, dtype=float)
    if not np.isnan(a).any():
        return a.tolist()
    return [None if x != x else x for x in a.tolist()]


def _full(value, m: int) -> np.ndarray:
    return np.array(np.broadcast_to(np.asarray(value, dtype=float), (m,)), dtype=float)


def _nan(m: int) -> np.ndarray:
    return np.full(m, np.nan)


def _shewhart(statistic: str, values, sizes, kept, center, sigma) -> dict:
    """Limits and z of a Shewhart statistic (xbar, i, p, np, c, u, r, s) over one stage."""
    m = values.size
    sizes = None if statistic in ("i", "c") else sizes
    pl = engine.point_limits(statistic, sizes, center, sigma)
    z = _nan(m)
    ok = kept & np.isfinite(values)
    if ok.any():
        z[ok] = engine.z_scores(statistic, values[ok], None if sizes is None else sizes[ok],
                                center, sigma)
    return {"value": values, "center": _full(pl.center, m), "ucl": _full(pl.ucl, m),
            "lcl": _full(pl.lcl, m), "z": z}


def _series(ch: Characteristic, means, kept, prefix, center, sigma) -> dict:
    """EWMA or CUSUM over one stage: the stage's kept means before the selection (`prefix`)
    continue into the selected ones; an excluded point shows the limits of the kept point
    before it (the first kept one if none) and no statistic."""
    m = means.size
    series = np.concatenate([np.asarray(prefix, dtype=float), means[kept]])
    if series.size == 0:
        return {"value": _nan(m), "center": _nan(m), "ucl": _nan(m), "lcl": _nan(m),
                "z": _nan(m), "upper": _nan(m), "lower": _nan(m)}
    at = np.maximum(len(prefix) + np.cumsum(kept) - 1, 0)  # series index each point reads
    n = max(ch.subgroup_size, 1)
    if ch.chart_type == ChartType.EWMA:
        chart = engine.ewma_limits(series, lam=ch.ewma_lambda, L=ch.ewma_l, center=center,
                                   sigma=sigma, n=n)
        e = np.asarray(chart.primary_values)
        sp = _full(chart.primary.sigma_point, series.size)
        value = np.where(kept, e[at], np.nan)
        return {"value": value, "center": _full(center, m),
                "ucl": _full(chart.primary.ucl, series.size)[at],
                "lcl": _full(chart.primary.lcl, series.size)[at],
                "z": (value - center) / sp[at]}
    result = engine.cusum(series, k=ch.cusum_k, h=ch.cusum_h, target=center, sigma=sigma, n=n)
    return {"value": _nan(m), "center": _full(0.0, m), "ucl": _full(result.H, m),
            "lcl": _full(-result.H, m),
            "z": np.where(kept, (means - center) / result.sigma_point, np.nan),
            "upper": np.where(kept, np.asarray(result.upper)[at], np.nan),
            "lower": np.where(kept, np.asarray(result.lower)[at], np.nan)}


def _moving_ranges(means, kept, previous: float | None) -> np.ndarray:
    """|x − the previous non-excluded x of the stage| per point; NaN where there is none."""
    m = means.size
    last_kept = np.maximum.accumulate(np.where(kept, np.arange(m), -1))
    prev = np.concatenate([[-1], last_kept[:-1]]) if m else last_kept
    before = np.nan if previous is None else previous
    prev_values = np.where(prev >= 0, means[np.maximum(prev, 0)], before)
    return np.abs(means - prev_values)


def _version_dict(v: ControlLimits) -> dict:
    return {"version": v.version, "center": v.center, "ucl": v.ucl, "lcl": v.lcl,
            "sigma": v.sigma, "secondary_center": v.secondary_center,
            "secondary_ucl": v.secondary_ucl, "secondary_lcl": v.secondary_lcl,
            "source": v.source, "method": v.method, "reason": v.reason,
            "effective_from": v.effective_from.isoformat(), "is_active": v.is_active}


def _live_rules(ch: Characteristic, samples: list[tuple]) -> dict[str, dict[int, list[int]]]:
    """Rule numbers of the live violations of each selected sample, per chart, in one query."""
    rules: dict[str, dict[int, set[int]]] = {"primary": defaultdict(set),
                                             "secondary": defaultdict(set)}
    if not samples:
        return {"primary": {}, "secondary": {}}
    ids = {s[_ID] for s in samples}
    rows = ch.violations.filter(
        superseded_at__isnull=True, sample__timestamp__gte=samples[0][_TS],
        sample__timestamp__lte=samples[-1][_TS],
    ).values_list("sample_id", "rule", "chart")
    for sample_id, rule, chart in rows:
        if sample_id in ids:  # the range may reach samples tied in time outside a last-N cut
            rules[chart][sample_id].add(rule)
    return {chart: {k: sorted(v) for k, v in by.items()} for chart, by in rules.items()}


def _points(samples, stamps, a, b, arrays, version, rules=None) -> list[dict]:
    """Point dicts of samples[a:b] from per-stage arrays (value, center, ucl, lcl, z …)."""
    cols = {k: _floats(v) for k, v in arrays.items()}
    number = version.version if version is not None else None
    points = [
        {"sample_id": s[_ID], "timestamp": stamp, "value": value, "n": s[_N], "center": center,
         "ucl": ucl, "lcl": lcl, "z": None if s[_EXCLUDED] else z, "excluded": s[_EXCLUDED],
         "exclusion_reason": s[_REASON], "limits_version": number}
        for s, stamp, value, center, ucl, lcl, z in zip(
            samples[a:b], stamps[a:b], cols["value"], cols["center"], cols["ucl"], cols["lcl"],
            cols["z"], strict=True)
    ]
    if "upper" in cols:
        for point, upper, lower in zip(points, cols["upper"], cols["lower"], strict=True):
            point["upper"] = upper
            point["lower"] = lower
    if rules is not None:
        for point in points:
            point["rules"] = rules.get(point["sample_id"], [])
    return points


def _no_limits(values: np.ndarray, kind: str) -> dict:
    """A stage without limits: the points' own statistic (none for EWMA and CUSUM) only."""
    m = values.size
    series = kind in (ChartType.EWMA, ChartType.CUSUM)
    out = {"value": _nan(m) if series else values, "center": _nan(m), "ucl": _nan(m),
           "lcl": _nan(m), "z": _nan(m)}
    if kind == ChartType.CUSUM:
        out.update(upper=_nan(m), lower=_nan(m))
    return out


def chart_data(ch: Characteristic, last: int | None = None, start: datetime | None = None,
               end: datetime | None = None) -> dict:
    """The chart of the selected samples (see the module docstring), as plain JSON.

    Returns {characteristic, primary: {statistic, points}, secondary: {statistic, points} or
    None, versions, trial}. A point is {sample_id, timestamp, value, n, center, ucl, lcl, z,
    excluded, exclusion_reason, limits_version} plus `rules` (live violations) on the primary
    chart. For EWMA `value` is the EWMA statistic; for CUSUM `value` is None and `upper`/`lower`
    are C⁺ and C⁻ (both ≥ 0, as the engine defines them) with centre 0 and limits ±H, and z is
    the point's (x̄ − target)/σ_x̄. Excluded points keep their own statistic (none for EWMA and
    CUSUM, which drop them) and have z None.
    """
    kind = ch.chart_type
    primary_stat = PRIMARY[kind]
    secondary_stat = SECONDARY.get(kind)
    samples = select_samples(ch, SAMPLE_FIELDS, last, start, end)
    all_stages = stages(ch)  # [trial, one per version]: stage_of indexes this list
    versions = [stage.version for stage in all_stages[1:]]
    bounds = [v.effective_from for v in versions]
    stage_of = [bisect_right(bounds, s[_TS]) for s in samples]  # 0: trial, i: versions[i - 1]

    m = len(samples)
    n = np.array([s[_N] for s in samples], dtype=float)
    means = np.array([s[_MEAN] for s in samples], dtype=float)
    kept = np.array([not s[_EXCLUDED] for s in samples], dtype=bool)
    if kind in (ChartType.P, ChartType.U, ChartType.NP, ChartType.C):
        counts = np.array([s[_COUNT] for s in samples], dtype=float)
        values = counts / n if kind in (ChartType.P, ChartType.U) else counts
    else:
        values = means
    if secondary_stat == "r":
        secondary_values = np.array([s[_RANGE] for s in samples], dtype=float)
    elif secondary_stat == "s":
        secondary_values = np.array([s[_SD] for s in samples], dtype=float)

    trial_rows = trial = None
    if m and stage_of[0] == 0:
        trial_rows = stage_rows(ch, all_stages[0])
        trial = trial_fit(ch, trial_rows)

    # The stage's kept samples before the selection, for the first stage the selection touches.
    prefix: list[float] = []
    if m and kind in _NEEDS_PREFIX:
        first = (samples[0][_TS], samples[0][_ID])
        if trial_rows is not None:
            prefix = [r.mean for r in trial_rows if (r.timestamp, r.id) < first]
        else:
            i = stage_of[0]
            stage = all_stages[i]
            before = stage_rows(ch, stage, before=first, last=1 if kind == ChartType.IMR else None)
            prefix = [r.mean for r in before]

    rules = _live_rules(ch, samples)
    stamps = [s[_TS].isoformat() for s in samples]
    primary_points: list[dict] = []
    secondary_points: list[dict] = []
    involved: list[ControlLimits] = []
    a = 0
    while a < m:
        i = stage_of[a]
        b = a
        while b < m and stage_of[b] == i:
            b += 1
        version = versions[i - 1] if i else None
        if version is not None:
            involved.append(version)
            center, sigma = version.center, version.sigma
        elif trial is not None:
            center, sigma = trial.center, trial.sigma
        else:
            center = sigma = None
        seg_prefix = prefix if a == 0 else []
        k, sl = kept[a:b], slice(a, b)
        if secondary_stat == "mr":
            sec_values = _moving_ranges(means[sl], k, seg_prefix[-1] if seg_prefix else None)
        elif secondary_stat is not None:
            sec_values = secondary_values[sl]
        primary = secondary = None
        if center is not None:
            try:  # limits that cannot be applied (the engine refuses them) are shown as none
                if kind in (ChartType.EWMA, ChartType.CUSUM):
                    primary = _series(ch, means[sl], k, seg_prefix, center, sigma)
                else:
                    primary = _shewhart(primary_stat, values[sl], n[sl], k, center, sigma)
            except engine.EngineError:
                primary = None
            try:
                if secondary_stat is not None:
                    secondary = _shewhart(secondary_stat, sec_values, n[sl], k, None, sigma)
            except engine.EngineError:
                secondary = None
        if primary is None:
            primary = _no_limits(values[sl], kind)
        if secondary_stat is not None and secondary is None:
            secondary = _no_limits(sec_values, kind)
        primary_points += _points(samples, stamps, a, b, primary, version, rules["primary"])
        if secondary is not None:
            secondary_points += _points(samples, stamps, a, b, secondary, version,
                                        rules["secondary"])
        a = b

    in_trial = bool(m) and stage_of[0] == 0
    return {
        "characteristic": {"id": ch.pk, "name": ch.name, "unit": ch.unit, "chart_type": str(kind),
                           "decimal_places": ch.decimal_places, "usl": ch.usl, "lsl": ch.lsl,
                           "target": ch.target},
        "primary": {"statistic": primary_stat, "points": primary_points},
        "secondary": ({"statistic": secondary_stat, "points": secondary_points}
                      if secondary_stat else None),
        "versions": [_version_dict(v) for v in involved],
        "trial": ({"center": trial.center, "sigma": trial.sigma, "ucl": trial.ucl,
                   "lcl": trial.lcl} if in_trial and trial is not None else None),
    }
