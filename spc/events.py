"""What changed, told after it committed: one typed event per change a user can see.

Each change to a characteristic's data or verdicts sends one event once its transaction
commits (`publish`), so nobody hears of a change that was rolled back. Events are Django
signals sent with `send_robust`: a listener that raises is logged and never fails the request
that committed. Listeners (live pages, MQTT publish-back) connect in their app's `ready()`:

    from spc import events
    events.samples_recorded.connect(handler)   # handler(sender, event, **kwargs)

Every event carries ids plus what a subscriber needs to draw the change without a query.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

samples_recorded = Signal()  # event: SamplesRecorded
samples_rejudged = Signal()  # event: SamplesRejudged
sample_edited = Signal()  # event: SampleEdited (exclusion, restore, correction)
limits_changed = Signal()  # event: LimitsChanged
characteristic_changed = Signal()  # event: CharacteristicChanged


@dataclass(frozen=True)
class PlottedPoint:
    """A new point as the chart draws it: its plotted value with the limits and z in force
    (None where the stage has no fit yet), the version in force (None: trial) and the rules
    that fired there."""

    sample_id: int
    timestamp: datetime
    value: float | None
    center: float | None
    ucl: float | None
    lcl: float | None
    z: float | None
    limits_version: int | None
    rules: tuple[int, ...] = ()


@dataclass(frozen=True)
class SamplesRecorded:
    plant_id: int
    characteristic_id: int
    points: tuple[PlottedPoint, ...]
    violation_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class SamplesRejudged:
    """Samples judged again from `since` to `until` (exclusive; None: the newest)."""

    plant_id: int
    characteristic_id: int
    since: datetime | None
    until: datetime | None
    raised: tuple[int, ...] = ()  # violation ids created
    superseded: tuple[int, ...] = ()  # violation ids no longer live
    reason: str = ""  # what caused it: "back-dated sample", "exclusion", "limits", …


@dataclass(frozen=True)
class SampleEdited:
    plant_id: int
    characteristic_id: int
    sample_id: int
    kind: str  # SampleEdit.Kind: EXCLUDE, RESTORE, EDIT
    edit_id: int
    excluded: bool


@dataclass(frozen=True)
class LimitsChanged:
    plant_id: int
    characteristic_id: int
    version_id: int
    version: int
    effective_from: datetime
    center: float
    ucl: float
    lcl: float


@dataclass(frozen=True)
class CharacteristicChanged:
    plant_id: int
    characteristic_id: int
    changed: tuple[str, ...] = field(default_factory=tuple)  # field names


def publish(signal: Signal, event) -> None:
    """Send `event` on `signal` after the current transaction commits (at once outside one)."""

    def send():
        for receiver, result in signal.send_robust(sender=type(event), event=event):
            if isinstance(result, Exception):
                logger.error("Listener %r failed on %s", receiver, type(event).__name__,
                             exc_info=(type(result), result, result.__traceback__))

    transaction.on_commit(send, robust=True)
