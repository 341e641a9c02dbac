"""Events of the alerts app, sent after commit like spc.events (same publisher)."""

from dataclasses import dataclass
from datetime import datetime

from django.dispatch import Signal

violations_acknowledged = Signal()  # event: ViolationsAcknowledged


@dataclass(frozen=True)
class ViolationsAcknowledged:
    plant_id: int
    violation_ids: tuple[int, ...]
    characteristic_ids: tuple[int, ...]
    sample_ids: tuple[int, ...]
    acknowledged_by: int | None
    acknowledged_at: datetime
    reason_code_id: int
    reason_code: str
    comment: str
