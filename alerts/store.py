"""Keeping violations in step with what the rules detect; registered as spc's violation store."""

from django.utils import timezone

from alerts.models import Violation
from spc.rule_settings import settings_for


def store(characteristic, detections, judged_sample_ids) -> list[Violation]:
    """Make the live violations of the judged samples equal the detections.

    `judged_sample_ids` are the earlier samples judged again; new samples have no violations
    yet, so only their detections are created.

    A detection already live (same sample, rule and points) is kept as it is — with its
    acknowledgment; a live violation no longer detected is superseded, never deleted; the rest
    are created. Returns the live violations of the judged samples.
    """
    judged = set(judged_sample_ids)
    if not judged and not detections:
        return []  # a new sample that fired nothing: the common case, no work
    live = list(Violation.objects.filter(sample_id__in=judged, superseded_at__isnull=True)) \
        if judged else []
    wanted = {(d.sample_id, d.rule, d.chart, tuple(d.points)): d for d in detections}
    keep, stale = [], []
    for violation in live:
        key = (violation.sample_id, violation.rule, violation.chart, tuple(violation.points))
        (keep if wanted.pop(key, None) else stale).append(violation)
    if stale:
        Violation.objects.filter(pk__in=[v.pk for v in stale]).update(superseded_at=timezone.now())
    rules = settings_for(characteristic)
    created = Violation.objects.bulk_create([
        Violation(plant_id=characteristic.plant_id, characteristic=characteristic,
                  sample_id=d.sample_id, rule=d.rule, chart=d.chart,
                  severity=rules[d.rule].severity,
                  points=list(d.points), requires_ack=rules[d.rule].requires_ack)
        for d in wanted.values()
    ])
    return keep + created
