"""Judging samples against the limits in force: stages, z-scores and rule firings.

A characteristic's history is split into stages: the trial stage (before any limits were
established, judged against trial limits fitted to its own data) and one stage per limit
version, from its `effective_from` to the next version's. Rules look only at the non-excluded
samples of one stage, so a new set of limits starts its patterns afresh.
"""

import math
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import numpy as np
from django.db.models import Q, Subquery

from spc import engine, judging
from spc.fitting import PRIMARY
from spc.models import Characteristic, ControlLimits, Sample


class Row(NamedTuple):
    id: int
    timestamp: datetime
    n: int
    mean: float | None
    range: float | None
    sd: float | None
    count: int | None
    # what the point carries to the next (spc.judging.STATE_FIELDS); None where nothing
    stage_index: int | None = None
    ewma: float | None = None
    cusum_upper: float | None = None
    cusum_lower: float | None = None
    cusum_upper_run: int | None = None
    cusum_lower_run: int | None = None
    fit_center_sum: float | None = None
    fit_center_weight: float | None = None
    fit_sigma_sum: float | None = None
    fit_sigma_weight: float | None = None


ROW_FIELDS = Row._fields
COLUMN_FIELDS = tuple(f for f in ROW_FIELDS if f != "timestamp")


class RowColumns:
    """Kept rows as one numpy array per field (Row's fields but the timestamp): the form a long
    stretch of a stage is read and judged in, without a Python object per sample. Only the
    fields read are held; any other of COLUMN_FIELDS reads as NaN throughout (nothing carried,
    or a statistic the chart does not use)."""

    def __init__(self, arrays: dict):
        self.__dict__.update(arrays)
        self.fields = tuple(arrays)
        self._m = len(arrays["id"])

    def __len__(self) -> int:
        return self._m

    def __getattr__(self, name: str) -> np.ndarray:
        if name not in COLUMN_FIELDS:
            raise AttributeError(name)
        column = np.full(self._m, np.nan)
        setattr(self, name, column)
        return column

    @classmethod
    def of(cls, rows) -> "RowColumns":
        if isinstance(rows, RowColumns):
            return rows
        return cls.from_tuples([tuple(getattr(r, f) for f in COLUMN_FIELDS) for r in rows])

    @classmethod
    def from_tuples(cls, rows: list[tuple], fields=COLUMN_FIELDS) -> "RowColumns":
        """From tuples of `fields` (starting with the id), as the database driver returns
        them; None reads as NaN."""
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(fields)
        arrays = {f: np.array(c, dtype=float) for f, c in zip(fields, columns, strict=True)}
        arrays["id"] = np.array(columns[0], dtype=np.int64)
        return cls(arrays)

    def __add__(self, other: "RowColumns") -> "RowColumns":
        fields = dict.fromkeys((*self.fields, *other.fields))
        return RowColumns({f: np.concatenate([getattr(self, f), getattr(other, f)])
                           for f in fields})

    def only(self, fields) -> "RowColumns":
        return RowColumns({f: getattr(self, f) for f in dict.fromkeys(("id", *fields))})


@dataclass(frozen=True)
class Stage:
    version: ControlLimits | None  # None: the trial stage
    start: datetime | None
    end: datetime | None

    def contains(self, t: datetime) -> bool:
        return (self.start is None or t >= self.start) and (self.end is None or t < self.end)


@dataclass(frozen=True)
class Detection:
    """A rule firing at a sample, with the samples that make up its pattern."""

    sample_id: int
    rule: int
    points: tuple[int, ...]
    chart: str = "primary"  # or "secondary": the R, S or MR chart (rule 1 only)


_UNREAD = object()


def stages(ch: Characteristic, since: datetime | None = None, newest=_UNREAD) -> list[Stage]:
    """The stages of a characteristic in time order; with `since`, only those reaching it
    (the version in force at `since` and any later ones, read in one query). `newest`, the
    newest limit version (or None) when the caller has read it already (the pipeline, under its
    writer's lock), answers the common case — all of it in the newest stage — without a query."""
    if since is not None and newest is not _UNREAD:
        if newest is None:
            return [Stage(None, None, None)]
        if newest.effective_from <= since:
            return [Stage(newest, newest.effective_from, None)]
    qs = ch.limit_versions.order_by("effective_from", "version")
    if since is not None:
        in_force = qs.filter(effective_from__lte=since).order_by(
            "-effective_from", "-version").values("pk")[:1]
        qs = qs.filter(Q(effective_from__gt=since) | Q(pk__in=Subquery(in_force)))
    versions = list(qs)
    bounds = [v.effective_from for v in versions] + [None]
    out = [Stage(v, v.effective_from, bounds[i + 1]) for i, v in enumerate(versions)]
    if since is not None and versions and versions[0].effective_from <= since:
        return out
    return [Stage(None, None, bounds[0]), *out]


def stage_rows(ch: Characteristic, stage: Stage, before=None, last: int | None = None) -> list[Row]:
    """Non-excluded samples of a stage in time order; optionally only those before
    `(timestamp, id)`, and only the last N of them."""
    qs = Sample.objects.filter(characteristic=ch, excluded=False)
    if stage.start is not None:
        qs = qs.filter(timestamp__gte=stage.start)
    if stage.end is not None:
        qs = qs.filter(timestamp__lt=stage.end)
    if before is not None:
        ts, pk = before
        qs = qs.filter(timestamp__lte=ts).exclude(timestamp=ts, id__gte=pk)
    if last is not None:
        rows = list(qs.order_by("-timestamp", "-id").values_list(*ROW_FIELDS)[:last])
        rows.reverse()
    else:
        rows = list(qs.order_by("timestamp", "id").values_list(*ROW_FIELDS))
    return [Row(*r) for r in rows]


def judge(ch: Characteristic, stage: Stage, window: list[Row], rows, rules: set[int],
          drawn_for=None) -> tuple[list[Detection], dict, dict]:
    """Judge `rows` (kept rows of one stage in time order: a list of Row or RowColumns) after
    `window`, the kept rows just before them in the stage (their state stored). Returns the
    detections at `rows`, the state columns to store for them (spc.judging: empty when the
    chart carries none) and how each of `drawn_for` (ids; None: every row) is drawn:
    {id: (value, center, UCL, LCL, z, limits version)}, None for what has no value."""
    if not len(rows):
        return [], {}, {}
    version = stage.version
    rows = RowColumns.of(rows)
    state = judging.advance(ch, version, window[-1] if window else None, rows)
    every = RowColumns.of(window).only(rows.fields) + rows
    if state:
        stored = judging.state_of(window)
        state_all = {k: np.concatenate([stored[k], state[k]]) for k in state}
    else:
        state_all = {}
    v = judging.verdicts(ch, version, every, state_all)
    ids = every.id.tolist()
    detections = [Detection(ids[f.index], f.rule, tuple(ids[i] for i in f.points), f.chart)
                  for f in judging.firings(ch, version, every, v, len(window), rules)]
    number = version.version if version is not None else None
    a = len(window)
    at = range(a, len(ids)) if drawn_for is None else \
        (np.flatnonzero(np.isin(every.id[a:], list(drawn_for))) + a).tolist() \
        if len(drawn_for) else []
    drawn = {}
    for i in at:
        values = (float(c[i]) for c in (v.value, v.center, v.ucl, v.lcl, v.z))
        drawn[ids[i]] = (*(x if math.isfinite(x) else None for x in values), number)
    return detections, state, drawn


def state_missing(ch: Characteristic, stage: Stage, window: list[Row]) -> bool:
    """Whether the kept row before a judgment lacks the state its chart carries (samples
    stored before OpenSPC kept it): the stage is then judged again from its start."""
    return bool(window) and judging.carries_state(ch, stage.version) and \
        window[-1].stage_index is None


def z_scores(ch: Characteristic, rows: list[Row], center: float, sigma: float) -> np.ndarray:
    """z of rows against a fit's center and σ (the engine's definition), for limit fitting."""
    values, n = judging.plotted_values(ch, rows)
    statistic = PRIMARY[ch.chart_type]
    sizes = None if statistic in ("i", "c") else n
    return engine.z_scores(statistic, values, sizes, center, sigma)


def beyond_secondary(ch: Characteristic, rows: list[Row], sigma: float) -> list[int]:
    """Indices of rows whose R, S or MR lies beyond its 3σ limits for the process σ `sigma`."""
    return judging.beyond_secondary(ch, rows, sigma).tolist()
