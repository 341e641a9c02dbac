"""What needs measuring: when a manual characteristic's next sample is due, and the state of
its card on the operator's to-do list; the status of tag-fed characteristics.

A manual characteristic with a sampling interval is **due** once the interval has passed since
its last sample (at once when it has none), **overdue** once a grace period has passed after
that (`overdue_after`; by default a tenth of the interval, at least 5 minutes). Its card is red
when it is overdue **or** its last sample is out of control and not yet acknowledged, amber when
it is due, grey otherwise. The times are computed here, once; the page flips a card when the
computed moment passes (static/openspc/dashboard.js) and asks again when a sample arrives.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Subquery
from django.utils import timezone

from spc.models import Characteristic, Provider, Sample, Violation

MIN_GRACE = timedelta(minutes=5)
STALE_WITHOUT_INTERVAL = timedelta(minutes=15)
IDLE, DUE, OVERDUE = "idle", "due", "overdue"
ORDER = {OVERDUE: 0, DUE: 1, IDLE: 2}


def grace(ch: Characteristic) -> timedelta:
    if ch.overdue_after is not None:
        return ch.overdue_after
    return max(ch.sampling_interval / 10, MIN_GRACE) if ch.sampling_interval else MIN_GRACE


@dataclass
class Card:
    """A characteristic as the to-do list shows it."""

    ch: Characteristic
    last_at: datetime | None
    last_value: float | None
    out_of_control: bool  # its last sample has a violation awaiting acknowledgment
    waiting: int  # violations awaiting acknowledgment, all samples
    due_at: datetime | None
    overdue_at: datetime | None
    state: str

    @property
    def is_manual(self) -> bool:
        return self.ch.provider == Provider.MANUAL

    @property
    def red(self) -> bool:
        return self.state == OVERDUE or self.out_of_control

    @property
    def stale(self) -> bool:
        """A tag-fed characteristic whose feed has gone quiet."""
        if self.is_manual:
            return False
        limit = 3 * self.ch.sampling_interval if self.ch.sampling_interval \
            else STALE_WITHOUT_INTERVAL
        return self.last_at is None or timezone.now() - self.last_at > limit


def state_at(ch: Characteristic, last_at: datetime | None, now: datetime
             ) -> tuple[str, datetime | None, datetime | None]:
    """(state, due at, overdue at) of a characteristic whose last sample is at `last_at`."""
    if not ch.sampling_interval or ch.provider != Provider.MANUAL:
        return IDLE, None, None
    due_at = (last_at + ch.sampling_interval) if last_at else ch.created_at
    overdue_at = due_at + grace(ch)
    if now >= overdue_at:
        return OVERDUE, due_at, overdue_at
    return (DUE if now >= due_at else IDLE), due_at, overdue_at


def _annotated(queryset):
    last = Sample.objects.filter(characteristic=OuterRef("pk")).order_by("-timestamp", "-id")
    open_violations = Violation.objects.filter(superseded_at__isnull=True,
                                               acknowledged_at__isnull=True, requires_ack=True)
    waiting = (open_violations.filter(characteristic=OuterRef("pk")).order_by()
               .values("characteristic").annotate(n=Count("pk")).values("n"))
    return (queryset.select_related("node", "node__parent")
            .annotate(last_id=Subquery(last.values("id")[:1]),
                      last_at=Subquery(last.values("timestamp")[:1]),
                      last_mean=Subquery(last.values("mean")[:1]),
                      last_count=Subquery(last.values("count")[:1]),
                      last_n=Subquery(last.values("n")[:1]),
                      waiting=Subquery(waiting))
            .annotate(last_out=Exists(open_violations.filter(sample_id=OuterRef("last_id")))))


def _value(ch) -> float | None:
    if ch.last_mean is not None:
        return ch.last_mean
    if ch.last_count is None:
        return None
    if ch.chart_type in ("p", "u") and ch.last_n:
        return ch.last_count / ch.last_n
    return float(ch.last_count)


def cards(queryset, now: datetime | None = None) -> list[Card]:
    """The cards of the characteristics of `queryset`, red first, then amber, then the rest
    (each by when it fell or falls due, then by name), in one query."""
    now = now or timezone.now()
    out = []
    for ch in _annotated(queryset):
        state, due_at, overdue_at = state_at(ch, ch.last_at, now)
        out.append(Card(ch, ch.last_at, _value(ch), bool(ch.last_out), ch.waiting or 0,
                        due_at, overdue_at, state))
    far = datetime.max.replace(tzinfo=now.tzinfo)
    out.sort(key=lambda c: (0 if c.red else ORDER[c.state], c.due_at or far, c.ch.name))
    return out


def card(ch: Characteristic) -> Card:
    return cards(Characteristic.objects.filter(pk=ch.pk))[0]


def attention_count(plant, now: datetime | None = None) -> int:
    """How many manual characteristics of the plant are due or overdue (the top bar's badge)."""
    manual = Characteristic.objects.filter(plant=plant, provider=Provider.MANUAL,
                                           sampling_interval__isnull=False)
    return sum(1 for c in cards(manual, now) if c.state != IDLE)
