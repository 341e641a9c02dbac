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

from spc import judging
from spc.evaluation import ROW_FIELDS, stage_rows, stages
from spc.fitting import PRIMARY, SECONDARY
from spc.judging import STATE_FIELDS
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
    state: dict  # the carried state columns (spc.judging.STATE_FIELDS), NaN where none


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
    carried = STATE_FIELDS if _carries_state(ch) else ()
    fields = ("id", "utc", "n", "mean", "range", "sd", "count", "excluded", *carried)
    rows = _fetch(qs, fields, last, rows_of=_driver_rows)
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(fields)
    ids, stamps, n, mean, rng, sd, count, excluded = columns[:8]
    size = len(ids)
    state = {name: np.array(columns[8 + i], dtype=float) if carried else np.full(size, np.nan)
             for i, name in enumerate(STATE_FIELDS)}
    return Columns(np.array(ids, dtype=np.int64), np.array(stamps, dtype="datetime64[us]"),
                   np.array(n, dtype=np.int64), np.array(mean, dtype=float),
                   np.array(rng, dtype=float), np.array(sd, dtype=float),
                   np.array(count, dtype=float), np.array(excluded, dtype=bool), state)


def _carries_state(ch) -> bool:
    """EWMA and CUSUM points always carry state; a Shewhart chart's only in its trial stage
    (read separately, `_read_trial_state`, when the selection reaches it)."""
    return ch.chart_type in judging.SERIES


def _read_trial_state(ch, cols: Columns, stage_of: np.ndarray) -> None:
    """Fill in the state of the selection's trial points (a Shewhart chart's first stage), in one
    query bounded by the selection."""
    at = np.flatnonzero(stage_of == 0)
    if not at.size or ch.chart_type in judging.SERIES:
        return
    span = {"timestamp__gte": _aware(cols.timestamp[at[0]]),
            "timestamp__lte": _aware(cols.timestamp[at[-1]])}
    found = {r[0]: r[1:] for r in Sample.objects.filter(characteristic=ch, **span)
             .values_list("id", *STATE_FIELDS)}
    position = {pk: i for i, pk in zip(at.tolist(), cols.sample_id[at].tolist(), strict=True)}
    for pk, values in found.items():
        i = position.get(pk)
        if i is not None:
            for name, value in zip(STATE_FIELDS, values, strict=True):
                cols.state[name][i] = np.nan if value is None else value


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


def _moving_ranges(means, kept, previous: float | None) -> np.ndarray:
    """|x − the previous non-excluded x of the stage| per point; NaN where there is none."""
    m = means.size
    last_kept = np.maximum.accumulate(np.where(kept, np.arange(m), -1))
    prev = np.concatenate([[-1], last_kept[:-1]]) if m else last_kept
    before = np.nan if previous is None else previous
    prev_values = np.where(prev >= 0, means[np.maximum(prev, 0)], before)
    return np.abs(means - prev_values)


def _nan(m: int) -> np.ndarray:
    return np.full(m, np.nan)


def _carry_forward(column: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Each point's value, or for one without (an excluded point) the value of the known
    point before it — or after it, when none is before."""
    m = column.size
    if not known.any():
        return column
    at = np.maximum.accumulate(np.where(known, np.arange(m), -1))
    first = int(np.argmax(known))
    return column[np.where(at >= 0, at, first)]


class _Rows:
    """Kept points of the selection as columns, in the shape spc.judging reads."""

    def __init__(self, cols, idx):
        self.n, self.mean, self.range = cols.n[idx], cols.mean[idx], cols.range[idx]
        self.sd, self.count = cols.sd[idx], cols.count[idx]
        self._m = idx.size

    def __len__(self):
        return self._m


def _stage_run(ch, cols, a, b, version, previous_mean, primary, secondary) -> dict | None:
    """Fill the columns of the points [a, b) of one stage with what they were judged against;
    the limits in force at its last point that has them ({center, sigma, ucl, lcl}) or None."""
    kind = ch.chart_type
    kept = ~cols.excluded[a:b]
    idx = np.flatnonzero(kept) + a
    everything = np.arange(a, b)
    established_shewhart = version is not None and kind not in judging.SERIES
    # an established Shewhart chart carries nothing: excluded points get limits for their own n
    judged = everything if established_shewhart else idx
    if judged.size == 0:
        return None
    state = {name: cols.state[name][judged] for name in STATE_FIELDS}
    v = judging.verdicts(ch, version, _Rows(cols, judged), state if not established_shewhart
                         else {})
    seg = slice(a, b)
    known = np.isin(everything, judged)
    for key, column in (("value", v.value), ("center", v.center), ("ucl", v.ucl),
                        ("lcl", v.lcl), ("z", v.z)):
        full = _nan(b - a)
        full[known] = column
        if key in ("center", "ucl", "lcl"):
            full = _carry_forward(full, known)
        primary[key][seg] = full
    if kind not in judging.SERIES:
        primary["value"][seg] = _plotted(kind, cols)[seg]  # excluded points keep their own
    if kind == ChartType.CUSUM:
        for key, column in (("upper", v.upper), ("lower", v.lower)):
            full = _nan(b - a)
            full[known] = column
            primary[key][seg] = full
    last = _last_limits(v)
    if secondary is None:
        return last
    sigma = _nan(b - a)
    sigma[known] = v.sigma
    sigma = _carry_forward(sigma, known)
    statistic = SECONDARY[kind]
    if statistic == "mr":
        values = _moving_ranges(cols.mean[seg], kept, previous_mean)
    else:
        values = (cols.range if statistic == "r" else cols.sd)[seg]
    center, ucl, lcl = judging.secondary_limits(ch, sigma, cols.n[seg].astype(float))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (values - center) / ((ucl - center) / 3)
    for key, column in (("value", values), ("center", center), ("ucl", ucl), ("lcl", lcl),
                        ("z", np.where(kept & np.isfinite(z), z, np.nan))):
        secondary[key][seg] = column
    return last


def _last_limits(v) -> dict | None:
    at = np.flatnonzero(np.isfinite(v.center) & np.isfinite(v.sigma))
    if not at.size:
        return None
    i = int(at[-1])
    ucl, lcl = np.broadcast_to(v.ucl, v.center.shape), np.broadcast_to(v.lcl, v.center.shape)
    return {"center": float(v.center[i]), "sigma": float(v.sigma[i]), "ucl": float(ucl[i]),
            "lcl": float(lcl[i])}


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


def _runs(stage_of: np.ndarray) -> list[tuple[int, int]]:
    """[(a, b)] of the runs of equal stage in the (time-ordered) points."""
    edges = [0, *(np.flatnonzero(np.diff(stage_of)) + 1).tolist(), stage_of.size]
    return list(zip(edges, edges[1:], strict=False)) if stage_of.size else []


def _previous_mean(ch, cols, stage_of, all_stages) -> float | None:
    """I-MR: the kept mean of the first selected point's stage just before it (one row), so
    the first moving range is the one the rules judged."""
    if not stage_of.size or ch.chart_type != ChartType.IMR:
        return None
    first = (_aware(cols.timestamp[0]), int(cols.sample_id[0]))
    before = stage_rows(ch, all_stages[int(stage_of[0])], before=first, last=1)
    return before[0].mean if before else None


def _plotted(kind: str, cols: Columns) -> np.ndarray:
    """The primary chart's own statistic per point (for EWMA and CUSUM, the mean)."""
    if kind in (ChartType.P, ChartType.U):
        return cols.count / cols.n
    return cols.count if kind in (ChartType.NP, ChartType.C) else cols.mean


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
    ±H, and z is the point's (x̄ − target)/σ_x̄. Both add `raw`, the subgroup mean of each
    point (excluded ones included), which the chart draws faintly. Excluded points keep their
    own statistic (none for EWMA and CUSUM, which drop them) and have z NaN. `trial` holds the
    trial limits when the selection reaches the trial stage.
    """
    kind = ch.chart_type
    cols = select_columns(ch, last, start, end)
    all_stages = stages(ch)  # [trial, one per version]: stage_of indexes this list
    versions = [stage.version for stage in all_stages[1:]]
    bounds = np.array([_utc64(v.effective_from) for v in versions], dtype="datetime64[us]")
    stage_of = np.searchsorted(bounds, cols.timestamp, side="right")

    _read_trial_state(ch, cols, stage_of)
    m = stage_of.size
    primary = {k: _nan(m) for k in _LIMIT_FIELDS}
    if kind == ChartType.CUSUM:
        primary.update(upper=_nan(m), lower=_nan(m))
    secondary = {k: _nan(m) for k in _LIMIT_FIELDS} if kind in SECONDARY else None
    previous = _previous_mean(ch, cols, stage_of, all_stages)
    involved, trial = [], None
    for a, b in _runs(stage_of):
        version = versions[int(stage_of[a]) - 1] if stage_of[a] else None
        if version is not None:
            involved.append(version)
        last = _stage_run(ch, cols, a, b, version, previous if a == 0 else None, primary,
                          secondary)
        if version is None:
            trial = last
    if kind in judging.SERIES:
        primary["raw"] = cols.mean  # the subgroup means the EWMA and CUSUM are computed from
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
        "trial": trial,
    }
