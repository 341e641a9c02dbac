"""Excluding, restoring and correcting samples: audited, and followed by re-evaluation."""

from spc import events, rejudge, sample_rows
from spc.models import Measurement, Sample, SampleEdit
from spc.sample_input import SampleInvalid, SampleRequest, clean


def _snapshot(sample: Sample) -> dict:
    return {
        "values": list(sample.measurements.order_by("position").values_list("value", flat=True)),
        "count": sample.count, "n": sample.n, "excluded": sample.excluded,
        "exclusion_reason": sample.exclusion_reason,
    }


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise SampleInvalid({"reason": ["Say why (the reason is kept with the sample's history)."]})
    return reason


def set_excluded(sample: Sample, excluded: bool, reason: str, user) -> Sample:
    """Exclude a sample from limits and rules (or restore it); later points are re-judged.
    Takes the characteristic's writer's lock, as recording a sample does."""
    reason = _require_reason(reason)
    with rejudge.writer_lock(sample.characteristic) as (ch, _):
        sample = Sample.objects.get(pk=sample.pk)
        if sample.excluded == excluded:
            state = "already excluded" if excluded else "not excluded"
            raise SampleInvalid({"excluded": [f"The sample is {state}."]})
        before = _snapshot(sample)
        sample.excluded = excluded
        sample.exclusion_reason = reason if excluded else ""
        sample.save(update_fields=["excluded", "exclusion_reason"])
        if excluded:
            sample_rows.clear_state(sample.pk)
        edit = SampleEdit.objects.create(
            sample=sample, kind=SampleEdit.Kind.EXCLUDE if excluded else SampleEdit.Kind.RESTORE,
            reason=reason, before=before, after=_snapshot(sample), edited_by=user,
        )
        rejudge.reevaluate(ch, sample.timestamp, "exclusion" if excluded else "restore",
                           changed=_next_kept(sample) if excluded else (sample.pk,))
        _publish(ch, sample, edit)
    return sample


def correct(sample: Sample, request: SampleRequest, reason: str, user) -> Sample:
    """Replace a sample's values (or count) keeping its time and context; re-judge from there."""
    reason = _require_reason(reason)
    with rejudge.writer_lock(sample.characteristic) as (ch, _):
        sample = Sample.objects.get(pk=sample.pk)
        request.timestamp = sample.timestamp
        cleaned = clean(ch, request)
        before = _snapshot(sample)
        for name in ("n", "mean", "range", "sd", "count"):
            setattr(sample, name, getattr(cleaned, name))
        sample.save(update_fields=["n", "mean", "range", "sd", "count"])
        Measurement.objects.filter(sample=sample).delete()
        Measurement.objects.bulk_create(
            [Measurement(sample=sample, position=i, value=v) for i, v in enumerate(cleaned.values)]
        )
        edit = SampleEdit.objects.create(sample=sample, kind=SampleEdit.Kind.EDIT, reason=reason,
                                         before=before, after=_snapshot(sample), edited_by=user)
        rejudge.reevaluate(ch, sample.timestamp, "correction", changed=(sample.pk,))
        _publish(ch, sample, edit)
    return sample


def _next_kept(sample: Sample) -> tuple[int, ...]:
    """The kept sample right after an excluded one (its predecessor changed), if any."""
    after = Sample.objects.filter(characteristic_id=sample.characteristic_id, excluded=False,
                                  timestamp__gte=sample.timestamp) \
        .exclude(timestamp=sample.timestamp, id__lte=sample.pk).order_by("timestamp", "id")
    return tuple(after.values_list("id", flat=True)[:1])


def _publish(ch, sample: Sample, edit: SampleEdit) -> None:
    events.publish(events.sample_edited, events.SampleEdited(
        plant_id=ch.plant_id, characteristic_id=ch.pk, sample_id=sample.pk, kind=edit.kind,
        edit_id=edit.pk, excluded=sample.excluded))
