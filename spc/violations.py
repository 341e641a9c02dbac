"""Keeping the violations in step with what the rules detect (the last step of the pipeline and
of every re-judging, inside their transaction)."""

from typing import NamedTuple

from django.utils import timezone

from spc.models import Violation
from spc.rule_settings import settings_for

_CHUNK = 5_000


class Stored(NamedTuple):
    """What the store did: the live violations of the detections (of `live_for`), the
    violations it created and the ids of those it superseded."""

    live: list
    created: list
    superseded: list[int]


def store(characteristic, detections, span=None, live_for=None) -> Stored:
    """Make the live violations equal the detections.

    `span` is (since, until) — the samples judged again, from `since` (None: the first) to
    `until` (exclusive; None: the last) — or None when only new samples were judged, which
    have no violations yet, so their detections are simply created.

    Within the span a detection already live (same sample, rule, chart and points) is kept as
    it is — with its acknowledgment; a live violation no longer detected is superseded, never
    deleted; the rest are created. Everything is read and written set-based, in chunks, never
    with a parameter per judged sample. `live_for` limits the live violations handed back to
    those of these sample ids (None: all).
    """
    if span is None and not detections:
        return Stored([], [], [])  # a new sample that fired nothing: the common case, no work
    wanted = {(d.sample_id, d.rule, d.chart, tuple(d.points)): d for d in detections}
    keep, stale = [], []
    if span is not None:
        since, until = span
        live = Violation.objects.filter(characteristic=characteristic, superseded_at__isnull=True)
        if since is not None:
            live = live.filter(sample__timestamp__gte=since)
        if until is not None:
            live = live.filter(sample__timestamp__lt=until)
        rows = live.values_list("pk", "sample_id", "rule", "chart", "points")
        for pk, sample_id, rule, chart, points in rows.iterator(chunk_size=_CHUNK):
            if wanted.pop((sample_id, rule, chart, tuple(points)), None):
                if live_for is None or sample_id in live_for:
                    keep.append(pk)
            else:
                stale.append(pk)
    now = timezone.now()
    for a in range(0, len(stale), _CHUNK):
        Violation.objects.filter(pk__in=stale[a:a + _CHUNK]).update(superseded_at=now)
    rules = settings_for(characteristic)
    created = Violation.objects.bulk_create([
        Violation(plant_id=characteristic.plant_id, characteristic=characteristic,
                  sample_id=d.sample_id, rule=d.rule, chart=d.chart,
                  severity=rules[d.rule].severity,
                  points=list(d.points), requires_ack=rules[d.rule].requires_ack)
        for d in wanted.values()
    ], batch_size=2_000)
    kept = [v for a in range(0, len(keep), _CHUNK)
            for v in Violation.objects.filter(pk__in=keep[a:a + _CHUNK])] if keep else []
    if live_for is not None:
        created_for = [v for v in created if v.sample_id in live_for]
    else:
        created_for = created
    return Stored(kept + created_for, created, stale)
