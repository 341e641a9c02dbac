"""The data of a characteristic's control chart, as columns: every point with the limits in
force at it.

`chart_data` selects samples (the last N, or a time range; excluded samples included and
marked), splits them into the stages of `spc.evaluation` (the trial stage, then one stage per
limit version from its `effective_from` on), and computes per stage, vectorized with the engine:
the plotted statistic, the centre line and limits at each point (per point where n varies), the
z-score (as the rules judged it) and the secondary statistic (R, S or MR).

The result holds one column per field rather than one object per point: numpy arrays (NaN where
there is no value, timestamps as datetime64[us] in UTC), which `spc.api.renderers` writes as
JSON in one pass, and which Plotly takes as they are. Per-point dicts cost more to build and to
render than the arithmetic, and repeated every shared field in both charts.

Queries are bounded whatever the number of points: the samples (1), the limit versions (1), the
live violations (1); the exclusion reasons when an excluded sample is selected (1); the trial
stage's rows when a point lies in it (1, plus the measurements an X̄ fit reads); for I-MR, EWMA
and CUSUM, the stage's samples before the selection (1), so the first moving range, the EWMA
and the CUSUM sums continue exactly as the pipeline judged them.
"""

from collections import defaultdict
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import CharField, Func
from django.db.models.functions import Cast

from spc import engine
from spc.evaluation import ROW_FIELDS, stage_rows, stages, trial_fit
from spc.fitting import PRIMARY, SECONDARY
from spc.models import Characteristic, ChartType, ControlLimits, Sample

SAMPLE_FIELDS = (*ROW_FIELDS, "excluded", "exclusion_reason")
# Charts whose first point in the selection depends on the stage's points before it.
_NEEDS_PREFIX = {ChartType.IMR, ChartType.EWMA, ChartType.CUSUM}
_LIMIT_FIELDS = ("value", "center", "ucl", "lcl", "z")


class UTCText(Func):
    """A timestamp as text in UTC without an offset ("2026-11-22 07:24:00.5"), which numpy
    parses into datetime64 for a whole column at once. SQLite stores timestamps so already;
    PostgreSQL is asked for the UTC wall time."""

    template = "CAST(%(expressions)s AS text)"
    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection,
                           template="CAST((%(expressions)s AT TIME ZONE 'UTC') AS text)",
                           **extra_context)


class Columns(NamedTuple):
    """The selected samples, one array per field (NaN for a missing mean, range, sd or count)."""

    sample_id: np.ndarray  # int64
    timestamp: np.ndarray  # datetime64[us], UTC
    n: np.ndarray  # int64
    mean: np.ndarray
    range: np.ndarray
    sd: np.ndarray
    count: np.ndarray
    excluded: np.ndarray  # bool


def _as_datetime(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _utc64(moment: datetime) -> np.datetime64:
    return np.datetime64(moment.astimezone(UTC).replace(tzinfo=None), "us")


def _aware(moment: np.datetime64) -> datetime:
    return moment.astype("datetime64[us]").item().replace(tzinfo=UTC)


def _selection(ch: Characteristic, last, start: datetime | None, end: datetime | None):
    if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 0):
        raise ValueError(f"last must be a whole number ≥ 0, got {last!r}")
    qs = Sample.objects.filter(characteristic=ch)
    if start is not None:
        qs = qs.filter(timestamp__gte=start)
    if end is not None:
        qs = qs.filter(timestamp__lte=end)
    return qs


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
    qs = _selection(ch, last, start, end)
    at = fields.index("timestamp") if "timestamp" in fields else None
    if at is None:
        return _fetch(qs, fields, last)
    as_text = (*fields[:at], "timestamp_text", *fields[at + 1:])
    rows = _fetch(qs.annotate(timestamp_text=Cast("timestamp", CharField())), as_text, last)
    return [(*r[:at], _as_datetime(r[at]), *r[at + 1:]) for r in rows]


def select_columns(ch: Characteristic, last: int | None = None, start: datetime | None = None,
                   end: datetime | None = None) -> Columns:
    """The selection of `select_samples` as columns, in one query.

    The rows are taken as the driver returns them, without Django's conversion per row (on
    SQLite a Python call per boolean), the timestamps as UTC text that numpy parses in one
    call. Only columns of the covering sample index are read, so PostgreSQL can answer from the
    index alone."""
    qs = _selection(ch, last, start, end).annotate(utc=UTCText("timestamp"))
    fields = ("id", "utc", "n", "mean", "range", "sd", "count", "excluded")
    rows = _fetch(qs, fields, last, rows_of=_driver_rows)
    ids, stamps, n, mean, rng, sd, count, excluded = (
        zip(*rows, strict=True) if rows else ((),) * len(fields))
    return Columns(np.array(ids, dtype=np.int64), np.array(stamps, dtype="datetime64[us]"),
                   np.array(n, dtype=np.int64), np.array(mean, dtype=float),
                   np.array(rng, dtype=float), np.array(sd, dtype=float),
                   np.array(count, dtype=float), np.array(excluded, dtype=bool))


def _fetch(qs, fields, last: int | None, rows_of=list) -> list[tuple]:
    if last is None:
        return rows_of(qs.order_by("timestamp", "id").values_list(*fields))
    rows = rows_of(qs.order_by("-timestamp", "-id").values_list(*fields)[:last])
    rows.reverse()
    return rows


def _driver_rows(qs) -> list[tuple]:
    """The rows of a values_list query as the database driver returns them (SQLite: booleans
    as 0/1)."""
    try:
        sql, params = qs.query.get_compiler(qs.db).as_sql()
    except EmptyResultSet:
        return []
    if not sql:  # an empty slice
        return []
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _span(cols: Columns) -> dict:
    """Lookups for the samples of the selection's time span (which may reach samples tied in
    time outside a last-N cut)."""
    return {"timestamp__gte": _aware(cols.timestamp[0]),
            "timestamp__lte": _aware(cols.timestamp[-1])}


def _exclusion_reasons(ch: Characteristic, cols: Columns) -> list[str]:
    """Each point's exclusion reason ("" when it is not excluded: restoring a sample clears
    it), read in one query for the excluded samples only, and only if there are any: the text
    is not in the covering index."""
    reasons = [""] * cols.sample_id.size
    at = np.flatnonzero(cols.excluded)
    if at.size:
        by_id = dict(Sample.objects.filter(characteristic=ch, excluded=True, **_span(cols))
                     .values_list("id", "exclusion_reason"))
        for i, sample_id in zip(at.tolist(), cols.sample_id[at].tolist(), strict=True):
            reasons[i] = by_id.get(sample_id, "")
    return reasons


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
        return _no_limits(_nan(m), ch.chart_type)
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


def _no_limits(values: np.ndarray, kind: str) -> dict:
    """A stage without limits: the points' own statistic (none for EWMA and CUSUM) only."""
    m = values.size
    series = kind in (ChartType.EWMA, ChartType.CUSUM)
    out = {"value": _nan(m) if series else values, "center": _nan(m), "ucl": _nan(m),
           "lcl": _nan(m), "z": _nan(m)}
    if kind == ChartType.CUSUM:
        out.update(upper=_nan(m), lower=_nan(m))
    return out


def _version_dict(v: ControlLimits) -> dict:
    return {"version": v.version, "center": v.center, "ucl": v.ucl, "lcl": v.lcl,
            "sigma": v.sigma, "secondary_center": v.secondary_center,
            "secondary_ucl": v.secondary_ucl, "secondary_lcl": v.secondary_lcl,
            "source": v.source, "method": v.method, "reason": v.reason,
            "effective_from": v.effective_from, "is_active": v.is_active}


def _live_rules(ch: Characteristic, cols: Columns) -> dict[str, list[tuple[int, ...]]]:
    """Per chart, the rule numbers of each point's live violations (a tuple, () for none), in
    one query."""
    m = cols.sample_id.size
    fired: dict[str, dict[int, set[int]]] = {"primary": defaultdict(set),
                                             "secondary": defaultdict(set)}
    if m:
        span = {f"sample__{k}": v for k, v in _span(cols).items()}
        rows = ch.violations.filter(superseded_at__isnull=True, **span).values_list(
            "sample_id", "rule", "chart")
        for sample_id, rule, chart in rows:
            fired[chart][sample_id].add(rule)
    position = dict(zip(cols.sample_id.tolist(), range(m), strict=True))
    out = {}
    for chart, by_sample in fired.items():
        column = [()] * m
        for sample_id, rules in by_sample.items():
            if sample_id in position:
                column[position[sample_id]] = tuple(sorted(rules))
        out[chart] = column
    return out


def _stage_limits(ch, stage_values, k, prefix, center, sigma, sec_values):
    """(primary, secondary) columns of one stage judged against `center` and `sigma`; a chart
    whose limits the engine refuses is shown without them (None)."""
    kind = ch.chart_type
    primary = secondary = None
    values, means, sizes = stage_values
    try:
        if kind in (ChartType.EWMA, ChartType.CUSUM):
            primary = _series(ch, means, k, prefix, center, sigma)
        else:
            primary = _shewhart(PRIMARY[kind], values, sizes, k, center, sigma)
    except engine.EngineError:
        primary = None
    try:
        if sec_values is not None:
            secondary = _shewhart(SECONDARY[kind], sec_values, sizes, k, None, sigma)
    except engine.EngineError:
        secondary = None
    return primary, secondary


def _runs(stage_of: np.ndarray) -> list[tuple[int, int]]:
    """[(a, b)] of the runs of equal stage in the (time-ordered) points."""
    edges = [0, *(np.flatnonzero(np.diff(stage_of)) + 1).tolist(), stage_of.size]
    return list(zip(edges, edges[1:], strict=False)) if stage_of.size else []


def _prefix(ch, cols, stage_of, all_stages, trial_rows) -> list[float]:
    """The kept means of the first selected point's stage before it (I-MR: the last one)."""
    kind = ch.chart_type
    if not stage_of.size or kind not in _NEEDS_PREFIX:
        return []
    first = (_aware(cols.timestamp[0]), int(cols.sample_id[0]))
    if trial_rows is not None:
        return [r.mean for r in trial_rows if (r.timestamp, r.id) < first]
    before = stage_rows(ch, all_stages[int(stage_of[0])], before=first,
                        last=1 if kind == ChartType.IMR else None)
    return [r.mean for r in before]


def _plotted(kind: str, cols: Columns) -> np.ndarray:
    """The primary chart's own statistic per point (for EWMA and CUSUM, the mean)."""
    if kind in (ChartType.P, ChartType.U):
        return cols.count / cols.n
    return cols.count if kind in (ChartType.NP, ChartType.C) else cols.mean


def _stage_columns(ch, cols, stage_of, versions, trial, prefix):
    """(primary, secondary, versions involved): each chart's columns, filled stage by stage."""
    kind = ch.chart_type
    m = stage_of.size
    kept, n, values = ~cols.excluded, cols.n.astype(float), _plotted(kind, cols)
    secondary_stat = SECONDARY.get(kind)
    secondary_values = {"r": cols.range, "s": cols.sd}.get(secondary_stat)
    primary = {k: _nan(m) for k in _LIMIT_FIELDS}
    if kind == ChartType.CUSUM:
        primary.update(upper=_nan(m), lower=_nan(m))
    secondary = {k: _nan(m) for k in _LIMIT_FIELDS} if secondary_stat else None
    involved: list[ControlLimits] = []
    for a, b in _runs(stage_of):
        i = int(stage_of[a])
        version = versions[i - 1] if i else None
        if version is not None:
            involved.append(version)
        limits = version or trial  # both have .center and .sigma
        seg_prefix = prefix if a == 0 else []
        sl, k = slice(a, b), kept[a:b]
        if secondary_stat == "mr":
            sec = _moving_ranges(cols.mean[sl], k, seg_prefix[-1] if seg_prefix else None)
        else:
            sec = None if secondary_values is None else secondary_values[sl]
        p = s = None
        if limits is not None:
            p, s = _stage_limits(ch, (values[sl], cols.mean[sl], n[sl]), k, seg_prefix,
                                 limits.center, limits.sigma, sec)
        for target, part, own in ((primary, p, values[sl]), (secondary, s, sec)):
            if target is not None:
                for key, column in (part or _no_limits(own, kind)).items():
                    target[key][sl] = column
    return primary, secondary, involved


def _chart(statistic: str, columns: dict, excluded: np.ndarray, rules: list) -> dict:
    columns["z"][excluded] = np.nan
    return {"statistic": statistic, **columns, "rules": rules}


def chart_data(ch: Characteristic, last: int | None = None, start: datetime | None = None,
               end: datetime | None = None) -> dict:
    """The chart of the selected samples (see the module docstring), as columns.

    Returns {characteristic, sample_id, timestamp, n, excluded, exclusion_reason,
    limits_version, primary, secondary, versions, trial}. The per-point columns at the top are
    shared by both charts: sample_id and n (int64 arrays), timestamp (datetime64[us], UTC),
    excluded (bool array), exclusion_reason (list of str, "" when none) and limits_version (list
    of the version number in force, None in the trial stage; `versions` describes each version
    involved). `primary` and `secondary` (None for charts without one) are {statistic, value,
    center, ucl, lcl, z, rules}: float arrays with NaN for no value, and `rules` a list with,
    per point, a tuple of the rule numbers of its live violations (() for none).

    For EWMA `value` is the EWMA statistic; for CUSUM `value` is NaN and the primary chart adds
    `upper`/`lower`, C⁺ and C⁻ (both ≥ 0, as the engine defines them), with centre 0 and limits
    ±H, and z is the point's (x̄ − target)/σ_x̄. Excluded points keep their own statistic (none
    for EWMA and CUSUM, which drop them) and have z NaN. `trial` holds the trial limits when
    the selection reaches the trial stage.
    """
    kind = ch.chart_type
    cols = select_columns(ch, last, start, end)
    all_stages = stages(ch)  # [trial, one per version]: stage_of indexes this list
    versions = [stage.version for stage in all_stages[1:]]
    bounds = np.array([_utc64(v.effective_from) for v in versions], dtype="datetime64[us]")
    stage_of = np.searchsorted(bounds, cols.timestamp, side="right")

    in_trial = bool(stage_of.size) and stage_of[0] == 0
    trial_rows = stage_rows(ch, all_stages[0]) if in_trial else None
    trial = trial_fit(ch, trial_rows) if in_trial else None
    prefix = _prefix(ch, cols, stage_of, all_stages, trial_rows)
    primary, secondary, involved = _stage_columns(ch, cols, stage_of, versions, trial, prefix)
    rules = _live_rules(ch, cols)
    numbers = [None, *(v.version for v in versions)]
    return {
        "characteristic": {"id": ch.pk, "name": ch.name, "unit": ch.unit, "chart_type": str(kind),
                           "decimal_places": ch.decimal_places, "usl": ch.usl, "lsl": ch.lsl,
                           "target": ch.target},
        "sample_id": cols.sample_id,
        "timestamp": cols.timestamp,
        "n": cols.n,
        "excluded": cols.excluded,
        "exclusion_reason": _exclusion_reasons(ch, cols),
        "limits_version": [numbers[i] for i in stage_of.tolist()],
        "primary": _chart(PRIMARY[kind], primary, cols.excluded, rules["primary"]),
        "secondary": (_chart(SECONDARY[kind], secondary, cols.excluded, rules["secondary"])
                      if secondary is not None else None),
        "versions": [_version_dict(v) for v in involved],
        "trial": ({"center": trial.center, "sigma": trial.sigma, "ucl": trial.ucl,
                   "lcl": trial.lcl} if trial is not None else None),
    }
