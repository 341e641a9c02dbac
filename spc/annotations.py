"""Notes on the chart: at one sample (a marker) or over a period (a shaded span).

Adding, editing or deleting one is told after its transaction commits on `annotations_changed`, the same
way `spc.events` tells of every other change (`events.publish`: `send_robust`, a failing
listener is logged and never fails the request). Listeners connect in their app's `ready()`:

    from spc import annotations
    annotations.annotations_changed.connect(handler)   # handler(sender, event, **kwargs)
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from spc import events
from spc.models import Annotation, AnnotationEdit, Characteristic, Sample

MAX_TEXT = 2000

annotations_changed = Signal()  # event: AnnotationChanged


@dataclass(frozen=True)
class AnnotationChanged:
    """An annotation added or deleted, with what a chart needs to draw or remove it."""

    plant_id: int
    characteristic_id: int
    annotation_id: int
    change: str  # "added", "edited" or "deleted"
    text: str
    sample_id: int | None  # a point's sample; None for a period
    start: datetime | None  # a period's start and end; None for a point
    end: datetime | None
    created_by: int | None


class AnnotationInvalid(ValueError):
    """An annotation that cannot be kept; `errors` maps field → list of messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


def _clean(ch, text, sample, start, end) -> str:
    text = (text or "").strip()
    if not text:
        raise AnnotationInvalid({"text": ["Write the note."]})
    if len(text) > MAX_TEXT:
        raise AnnotationInvalid({"text": [f"At most {MAX_TEXT} characters (got {len(text)})."]})
    if sample is not None:
        if start is not None or end is not None:
            raise AnnotationInvalid({"sample": ["Annotate a point or a period, not both."]})
        if sample.characteristic_id != ch.pk:
            raise AnnotationInvalid({"sample": ["The sample is not one of this characteristic's."]})
    elif start is None or end is None:
        raise AnnotationInvalid({"start": ["Give a sample, or the period's start and end."]})
    elif end < start:
        raise AnnotationInvalid({"end": ["The period must end after it starts."]})
    return text


def add_annotation(ch: Characteristic, text: str, user, sample: Sample | None = None,
                   start: datetime | None = None, end: datetime | None = None) -> Annotation:
    """Annotate one sample of `ch`, or the period from `start` to `end`."""
    text = _clean(ch, text, sample, start, end)
    with transaction.atomic():
        annotation = Annotation.objects.create(characteristic=ch, sample=sample, start=start,
                                               end=end, text=text, created_by=user)
        _publish(ch, annotation, "added")
    return annotation


def _state(annotation: Annotation) -> dict:
    return {"text": annotation.text,
            "start": annotation.start.isoformat() if annotation.start else None,
            "end": annotation.end.isoformat() if annotation.end else None}


def edit_annotation(annotation: Annotation, text: str, user, start: datetime | None = None,
                    end: datetime | None = None) -> Annotation:
    """Change a note's text (and a period's start and end), keeping the before and after in its
    history. Who may is the caller's to decide."""
    ch = annotation.characteristic
    if annotation.sample_id is None:
        start = start if start is not None else annotation.start
        end = end if end is not None else annotation.end
    else:
        start = end = None
    text = _clean(ch, text, annotation.sample, start, end)
    with transaction.atomic():
        before = _state(annotation)
        annotation.text, annotation.start, annotation.end = text, start, end
        after = _state(annotation)
        if after == before:
            return annotation
        annotation.save(update_fields=["text", "start", "end"])
        AnnotationEdit.objects.create(annotation=annotation, kind=AnnotationEdit.Kind.EDIT,
                                      before=before, after=after, edited_by=user)
        _publish(ch, annotation, "edited")
    return annotation


def delete_annotation(annotation: Annotation, user=None) -> None:
    """Delete a note: it leaves the chart, and stays in the record with who deleted it and when.
    Who may is the caller's to decide."""
    with transaction.atomic():
        ch = annotation.characteristic
        annotation.deleted_at = timezone.now()
        annotation.save(update_fields=["deleted_at"])
        AnnotationEdit.objects.create(annotation=annotation, kind=AnnotationEdit.Kind.DELETE,
                                      before=_state(annotation), after={}, edited_by=user)
        _publish(ch, annotation, "deleted")


def _publish(ch, annotation: Annotation, change: str) -> None:
    events.publish(annotations_changed, AnnotationChanged(
        plant_id=ch.plant_id, characteristic_id=ch.pk, annotation_id=annotation.pk,
        change=change, text=annotation.text, sample_id=annotation.sample_id,
        start=annotation.start, end=annotation.end, created_by=annotation.created_by_id))
