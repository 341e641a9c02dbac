"""Acknowledging violations: who is always the logged-in user, with a reason code of the plant."""

from django.db import transaction
from django.utils import timezone

from alerts import events
from spc import events as spc_events
from spc.models import ReasonCode, Violation


class AcknowledgmentInvalid(ValueError):
    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


@transaction.atomic
def acknowledge(violations: list[Violation], user, reason_code_id, comment: str = "") -> list[Violation]:
    """Acknowledge every violation or none; all must be live, unacknowledged, of one plant's codes."""
    ids = [v.pk for v in violations]
    locked = list(Violation.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    errors = []
    for v in locked:
        if v.superseded_at is not None:
            errors.append(f"Violation {v.pk} was superseded by a re-evaluation.")
        elif v.acknowledged_at is not None:
            errors.append(f"Violation {v.pk} is already acknowledged "
                          f"({v.acknowledged_at:%Y-%m-%d %H:%M}).")
    if errors:
        raise AcknowledgmentInvalid({"violations": errors})
    plants = {v.plant_id for v in locked}
    code = ReasonCode.objects.filter(pk=reason_code_id, active=True, plant_id__in=plants).first() \
        if isinstance(reason_code_id, int) and not isinstance(reason_code_id, bool) else None
    if code is None or len(plants) != 1:
        raise AcknowledgmentInvalid({"reason_code": [
            "Choose an active reason code of the violation's plant."
            if len(plants) <= 1 else "Acknowledge violations of one plant at a time."]})
    now = timezone.now()
    Violation.objects.filter(pk__in=ids).update(
        acknowledged_at=now, acknowledged_by=user, reason_code=code, comment=comment or "")
    done = list(Violation.objects.filter(pk__in=ids).order_by("pk"))
    spc_events.publish(events.violations_acknowledged, events.ViolationsAcknowledged(
        plant_id=code.plant_id, violation_ids=tuple(v.pk for v in done),
        characteristic_ids=tuple(sorted({v.characteristic_id for v in done})),
        sample_ids=tuple(sorted({v.sample_id for v in done})),
        acknowledged_by=getattr(user, "pk", None), acknowledged_at=now,
        reason_code_id=code.pk, reason_code=code.name, comment=comment or ""))
    return done
