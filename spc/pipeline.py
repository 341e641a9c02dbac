"""The one road every sample travels: validate, store, evaluate, record violations.

`record_samples` is the only way samples enter OpenSPC: the data-entry form, the REST API, file
import and MQTT ingest all call it. A batch is the general case (bulk inserts, one transaction,
all or nothing); a single sample is a batch of one. Side effects (live updates, MQTT publish)
run after the transaction commits.
"""

import threading
from contextlib import nullcontext
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from openspc import plain_sql
from spc import hooks, sample_rows
from spc.evaluation import Detection, detect, stage_rows, stages
from spc.models import SHEWHART_CHARTS, Characteristic, Sample
from spc.rule_settings import enabled_rules
from spc.sample_input import SampleInvalid, SampleRequest, clean

WINDOW = 15  # the longest Nelson pattern (rule 7) spans 15 points
MAX_BATCH = 10_000


class BatchInvalid(ValueError):
    """Rows of a batch that cannot be recorded: {row number (0-based): {field: [messages]}}."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        self.errors = errors
        super().__init__(f"{len(errors)} invalid row(s); nothing was recorded")


@dataclass
class Recorded:
    sample: Sample
    detections: list[Detection] = field(default_factory=list)
    violations: list = field(default_factory=list)


def record_sample(characteristic: Characteristic, request: SampleRequest, user=None) -> Recorded:
    """Record one sample (a batch of one). Raises SampleInvalid with field errors."""
    try:
        return record_samples(characteristic, [request], user)[0]
    except BatchInvalid as exc:
        raise SampleInvalid(exc.errors[0]) from None


def record_samples(characteristic: Characteristic, requests: list[SampleRequest],
                   user=None) -> list[Recorded]:
    """Validate every request, then store and evaluate them all in one transaction."""
    if len(requests) > MAX_BATCH:
        raise SampleInvalid({"samples": [f"At most {MAX_BATCH} samples per batch "
                                         f"(got {len(requests)})."]})
    now = timezone.now()
    cleaned, errors = [], {}
    for row, request in enumerate(requests):
        try:
            cleaned.append(clean(characteristic, request, now))
        except SampleInvalid as exc:
            errors[row] = exc.errors
    if errors:
        raise BatchInvalid(errors)
    with _one_sqlite_writer(), transaction.atomic():
        window = None
        if len(cleaned) == 1 and plain_sql.can_pipeline(connection):
            ch, newest, sample, window = sample_rows.write_one(
                characteristic, cleaned[0], user, WINDOW + 1)
            samples = [sample]
        else:
            ch, newest = sample_rows.lock_for_writing(characteristic)
            # Server time is taken under the lock, so concurrent writers append in time order.
            stamp = timezone.now()
            for request, c in zip(requests, cleaned, strict=True):
                if request.timestamp is None:
                    c.timestamp = stamp
            samples = sample_rows.insert(ch, cleaned, user, stamp)
        recorded = {s.pk: Recorded(s) for s in samples}
        detections, judged = _evaluate_new(ch, samples, newest, window)
        stored = hooks.store_violations(ch, detections, judged)
        for d in detections:
            if d.sample_id in recorded:
                recorded[d.sample_id].detections.append(d)
        for v in stored:
            if v.sample_id in recorded:
                recorded[v.sample_id].violations.append(v)
        _maybe_freeze(ch, user)
        result = [recorded[s.pk] for s in samples]
        transaction.on_commit(lambda: hooks.samples_recorded(ch, result))
    return result


_sqlite_write = threading.Lock()


def _one_sqlite_writer():
    """On SQLite, writers of this process queue on a lock instead of SQLite's busy handler,
    which sleeps in steps of up to 100 ms and woke waiting writers seconds late."""
    # Inside an outer transaction the write lock is already held (IMMEDIATE): waiting on the
    # Python lock there could deadlock with a writer that holds it and waits for SQLite.
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return nullcontext()
    return _sqlite_write


def _evaluate_new(ch: Characteristic, samples: list[Sample], newest, window=None):
    """Detections for newly stored samples, and the ids of earlier samples judged again.
    `newest` is the characteristic's newest limit version (None before any), read under the
    writer's lock; `window`, when given, the rule window of the newest stage read with it."""
    rules = enabled_rules(ch)
    new = sorted(samples, key=lambda s: (s.timestamp, s.pk))
    earliest = new[0].timestamp
    new_ids = {s.pk for s in samples}
    detections = []
    for stage in stages(ch, since=earliest, newest=newest):
        in_stage = [s for s in new if stage.contains(s.timestamp)]
        if not in_stage:
            continue
        # Trial fits and EWMA/CUSUM read the whole stage; an established Shewhart chart reads the
        # rule window before the new samples, and one row more to notice any sample after them.
        if stage.version is not None and ch.chart_type in SHEWHART_CHARTS:
            if window is not None and stage.version == newest and len(in_stage) == 1:
                rows = window  # read in the same round trip as the write
            else:
                rows = sample_rows.window(ch, stage.start, stage.end, WINDOW + len(in_stage))
        else:
            rows = stage_rows(ch, stage)
        if any(r.id not in new_ids and r.timestamp > earliest for r in rows):
            # Out of order (historical import into a history): re-judge from there on.
            return reevaluate_detections(ch, earliest, rules)
        first = next(i for i, r in enumerate(rows) if r.id in new_ids)
        detections += detect(ch, stage, rows, first, rules)
    return detections, []  # appended: no earlier sample was judged again


def reevaluate_detections(ch: Characteristic, since, rules=None):
    """Detections for every sample at or after `since`, and the ids of all samples judged."""
    rules = enabled_rules(ch) if rules is None else rules
    detections = []
    for stage in stages(ch):
        if stage.end is not None and stage.end <= since:
            continue
        rows = stage_rows(ch, stage)
        first = next((i for i, r in enumerate(rows) if r.timestamp >= since), len(rows))
        detections += detect(ch, stage, rows, first, rules)
    judged = list(
        Sample.objects.filter(characteristic=ch, timestamp__gte=since).values_list("pk", flat=True)
    )
    return detections, judged


def reevaluate(ch: Characteristic, since) -> None:
    """Re-judge the samples from `since` on after an exclusion, restore, edit or new limits."""
    detections, judged = reevaluate_detections(ch, since)
    hooks.store_violations(ch, detections, judged)


def _maybe_freeze(ch: Characteristic, user) -> None:
    if not ch.auto_freeze_after or ch.limit_versions.exists():
        return
    from spc.limit_versions import freeze_trial_limits

    freeze_trial_limits(ch, user)
