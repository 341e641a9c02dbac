"""The one road every sample travels: validate, store, evaluate, record violations.

`record_samples` is the only way samples enter OpenSPC: the data-entry form, the REST API, file
import and MQTT ingest all call it. A batch is the general case (bulk inserts, one transaction,
all or nothing); a single sample is a batch of one. Side effects (live updates, MQTT publish)
run after the transaction commits.
"""

from dataclasses import dataclass, field, replace

from django.db import connection, transaction
from django.db.models import Prefetch
from django.utils import timezone

from openspc import plain_sql
from spc import evaluation, events, limit_versions, rejudge, sample_rows, violations
from spc.evaluation import Detection, stages
from spc.models import Characteristic, Sample, Violation
from spc.rejudge import WINDOW
from spc.rule_settings import enabled_rules
from spc.sample_input import SampleInvalid, SampleRequest, clean

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
    created: bool = True  # False: the key named a sample stored before; nothing was recorded


def record_sample(characteristic: Characteristic, request: SampleRequest, user=None) -> Recorded:
    """Record one sample (a batch of one). Raises SampleInvalid with field errors."""
    try:
        return record_samples(characteristic, [request], user)[0]
    except BatchInvalid as exc:
        raise SampleInvalid(exc.errors[0]) from None


def record_samples(characteristic: Characteristic, requests: list[SampleRequest],
                   user=None) -> list[Recorded]:
    """Validate every request, then store and evaluate them all in one transaction.

    A request whose `key` the characteristic already holds (or that repeats a key earlier in
    the batch) records nothing: its Recorded is the stored sample, with `created` False."""
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
    keyed = any(c.key is not None for c in cleaned)
    with rejudge.one_sqlite_writer(), transaction.atomic():
        window = None
        if len(cleaned) == 1 and not keyed and plain_sql.can_pipeline(connection):
            ch, newest, sample, window = sample_rows.write_one(
                characteristic, cleaned[0], user, WINDOW + 1)
            samples, fresh = [sample], cleaned
        else:
            ch, newest = sample_rows.lock_for_writing(characteristic)
            fresh, repeats = _new_by_key(ch, cleaned) if keyed else (cleaned, {})
            # Time is taken under the lock, so concurrent writers append in time order.
            stamp = sample_rows.database_now() if any(c.timestamp is None for c in fresh) \
                else None
            for c in fresh:
                if c.timestamp is None:
                    c.timestamp = stamp
            samples = sample_rows.insert(ch, fresh, user, stamp or now) if fresh else []
        recorded = {s.pk: Recorded(s) for s in samples}
        groups, points = _evaluate_new(ch, samples, newest, window) if samples else ([], {})
        for detections, span in groups:
            stored = violations.store(ch, detections, span, live_for=recorded.keys())
            for d in detections:
                if d.sample_id in recorded:
                    recorded[d.sample_id].detections.append(d)
            for v in stored.live:
                if v.sample_id in recorded:
                    recorded[v.sample_id].violations.append(v)
            if span is not None:
                rejudge.publish_rejudged(ch, span, stored, "back-dated sample")
        if samples:
            _publish_recorded(ch, samples, points, recorded)
            _maybe_freeze(ch, user)
        if not keyed:
            return [recorded[s.pk] for s in samples]
        by_key = {s.key: recorded[s.pk] for s in samples if s.key is not None}
        return _in_request_order(cleaned, fresh, samples, recorded, by_key, repeats)


def _new_by_key(ch, cleaned):
    """(the requests to store, {key: stored Sample} of keys the characteristic already holds),
    the stored samples read with their values and live violations in three queries, however
    many keys repeat (a re-imported file repeats them all). At most MAX_BATCH keys: within
    both databases' parameter limits."""
    keys = sorted({c.key for c in cleaned if c.key is not None})
    live = Violation.objects.filter(superseded_at__isnull=True)
    repeats = {s.key: s for s in Sample.objects.filter(characteristic=ch, key__in=keys)
               .prefetch_related("measurements", Prefetch("violations", queryset=live))}
    seen, fresh = set(repeats), []
    for c in cleaned:
        if c.key is None or c.key not in seen:
            fresh.append(c)
            if c.key is not None:
                seen.add(c.key)
    return fresh, repeats


def _in_request_order(cleaned, fresh, samples, recorded, by_key, repeats) -> list[Recorded]:
    """One Recorded per request: the new sample, or the stored one its key names."""
    out, fresh_at = [], iter(samples)
    fresh_ids = {id(c) for c in fresh}
    for c in cleaned:
        if id(c) in fresh_ids:
            out.append(recorded[next(fresh_at).pk])
        elif c.key in repeats:
            out.append(_existing(repeats[c.key]))
        else:
            # a key repeated within the batch: the sample its first use recorded
            out.append(replace(by_key[c.key], created=False))
    return out


def _existing(sample: Sample) -> Recorded:
    """A stored sample as the answer to its key (measurements and live violations prefetched)."""
    sample._values = [m.value for m in sample.measurements.all()]  # ordered by position
    return Recorded(sample, violations=list(sample.violations.all()), created=False)


def _publish_recorded(ch, samples, points, recorded) -> None:
    """SamplesRecorded: each new point as drawn (`points`: {sample id: (value, center, UCL,
    LCL, z, limits version)}, None where it was not judged at once) with the rules it fired."""
    def point(s):
        rules = tuple(sorted({d.rule for d in recorded[s.pk].detections}))
        drawn = points.get(s.pk) or (None,) * 6
        return events.PlottedPoint(s.pk, s.timestamp, *drawn, rules)

    events.publish(events.samples_recorded, events.SamplesRecorded(
        plant_id=ch.plant_id, characteristic_id=ch.pk, points=tuple(point(s) for s in samples),
        violation_ids=tuple(v.pk for r in recorded.values() for v in r.violations)))


def _evaluate_new(ch: Characteristic, samples: list[Sample], newest, window=None):
    """Judge newly stored samples, stage by stage: ([(detections, span)], {sample id: how it is
    drawn}). A span is None where the new samples came after every other sample of their
    stage (nothing earlier changed), else (since, until) of the samples judged again.
    `newest` is the characteristic's newest limit version (None before any), read under the
    writer's lock; `window`, when given, the rule window of the newest stage read with it."""
    rules = enabled_rules(ch)
    new = sorted(samples, key=lambda s: (s.timestamp, s.pk))
    new_ids = {s.pk for s in samples}
    groups, drawn = [], {}
    for stage in stages(ch, since=new[0].timestamp, newest=newest):
        in_stage = [s for s in new if stage.contains(s.timestamp)]
        if not in_stage:
            continue
        earliest = in_stage[0].timestamp
        if window is not None and stage.version == newest and len(in_stage) == 1:
            rows = window  # read in the same round trip as the write
        else:
            # the rule window before the new samples, and one row more to notice any later one
            rows = sample_rows.window(ch, stage.start, stage.end, WINDOW + len(in_stage))
        first = next((i for i, r in enumerate(rows) if r.id in new_ids), None)
        before = rows[:first] if first is not None else rows
        # Out of order (a back-dated sample, perhaps older than the whole window read), or a
        # predecessor without the state its chart carries: re-judge from there on.
        if first is None or any(r.id not in new_ids and r.timestamp > earliest for r in rows) \
                or evaluation.state_missing(ch, stage, before):
            found, span, seen = rejudge.rejudge(ch, earliest, rules, new_ids, new_ids)
        else:
            found, state, seen = evaluation.judge(ch, stage, before, rows[first:], rules)
            sample_rows.write_state([r.id for r in rows[first:]], state)
            span = None
        drawn.update((pk, seen[pk]) for pk in new_ids if pk in seen)
        groups.append((found, span))
    return groups, drawn


def _maybe_freeze(ch: Characteristic, user) -> None:
    if ch.auto_freeze_after and not ch.limit_versions.exists():
        limit_versions.freeze_trial_limits(ch, user)
