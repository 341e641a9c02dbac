"""Excluding, restoring and correcting samples: audited, and followed by re-evaluation."""

from django.db import transaction

from spc.models import Measurement, Sample, SampleEdit
from spc.pipeline import reevaluate
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


@transaction.atomic
def set_excluded(sample: Sample, excluded: bool, reason: str, user) -> Sample:
    """Exclude a sample from limits and rules (or restore it); later points are re-judged."""
    reason = _require_reason(reason)
    sample = Sample.objects.select_for_update().get(pk=sample.pk)
    if sample.excluded == excluded:
        state = "already excluded" if excluded else "not excluded"
        raise SampleInvalid({"excluded": [f"The sample is {state}."]})
    before = _snapshot(sample)
    sample.excluded = excluded
    sample.exclusion_reason = reason if excluded else ""
    sample.save(update_fields=["excluded", "exclusion_reason"])
    SampleEdit.objects.create(
        sample=sample, kind=SampleEdit.Kind.EXCLUDE if excluded else SampleEdit.Kind.RESTORE,
        reason=reason, before=before, after=_snapshot(sample), edited_by=user,
    )
    reevaluate(sample.characteristic, sample.timestamp)
    return sample


@transaction.atomic
def correct(sample: Sample, request: SampleRequest, reason: str, user) -> Sample:
    """Replace a sample's values (or count) keeping its time and context; re-judge from there."""
    reason = _require_reason(reason)
    sample = Sample.objects.select_for_update().select_related("characteristic").get(pk=sample.pk)
    ch = sample.characteristic
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
    SampleEdit.objects.create(sample=sample, kind=SampleEdit.Kind.EDIT, reason=reason,
                              before=before, after=_snapshot(sample), edited_by=user)
    reevaluate(ch, sample.timestamp)
    return sample
