"""The log of live messages: what a page that reconnects missed.

Every message is stored before it is sent (alerts.live.publisher), so the database — shared by
every web process — answers "what came after id N for these groups" whichever process sent it.
The log keeps the last KEEP_FOR and at most about KEEP_ROWS messages, pruned from the oldest id
up, so it always holds a contiguous tail of ids: a bookmark older than its first row may have
missed pruned messages, and the page is told to start afresh (`resync`) instead.
"""

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from alerts.live.memory import PREFIX
from alerts.live.memory import store as memory
from alerts.models import LiveEvent

KEEP_FOR = timedelta(hours=24)
KEEP_ROWS = 200_000  # by id distance: ids are (nearly) contiguous
PRUNE_EVERY = 500  # ids: a prune costs three indexed statements
REPLAY_LIMIT = 500  # more missed than this: the page re-reads everything instead
_LAST = f"{PREFIX}last-id"  # the newest id stored (alerts.live.memory)


@dataclass(frozen=True)
class Missed:
    """What a page missed since its bookmark: the messages (oldest first), or `resync` when the
    log cannot tell (pruned, reset, or too many to be worth replaying); `last` is the newest id
    of the log when it was read, `since_at` when the bookmark's message was stored (a Unix time;
    None when the log no longer has it)."""

    events: list[LiveEvent]
    resync: bool
    last: int
    since_at: float | None = None


def last_event_id() -> int:
    """The bookmark of a page rendered now: the newest id of the log (0 when empty), as
    alerts.live.memory remembers it from the last message stored (a query only the first time).
    It may lag behind a message being stored at this very moment (the page then gets that
    message again, it never misses one); it runs ahead of the log only after the database was
    replaced, and a page whose bookmark is ahead of the log is told to start afresh."""
    last = memory().get(_LAST)
    if last is None:
        last = newest_id()
        memory().add(_LAST, last, None)
    return last


def forget() -> None:
    """Forget the remembered newest id (tests: ids come back after a rolled-back test)."""
    memory().delete_many([_LAST])


def cached_last_event_id() -> int | None:
    """last_event_id as remembered, without asking the database (None: not remembered)."""
    return memory().get(_LAST)


def newest_id() -> int:
    return LiveEvent.objects.aggregate(last=Max("id"))["last"] or 0


def store(plant_id: int, group: str, kind: str, payload: dict) -> LiveEvent:
    """Write one message, without waiting for it to reach the disk: the log is there for pages
    that reconnect, and a power cut that loses its last rows makes them start afresh (their
    bookmark is then ahead of the log). The wait was most of a message's cost: SQLite's
    synchronous=FULL syncs every commit (0.8–2.8 ms here, 0.1–0.2 ms without)."""
    row = LiveEvent(plant_id=plant_id, group=group, kind=kind, payload=payload)
    with _unsynced():
        row.save(force_insert=True)
    memory().set(_LAST, row.pk, None)
    return row


@contextmanager
def _unsynced():
    """A commit that does not wait for the disk: PostgreSQL's synchronous_commit off for this
    transaction; SQLite in WAL mode at synchronous=NORMAL for this statement (outside any
    transaction: SQLite changes it only there)."""
    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            yield
        return
    if connection.in_atomic_block:  # the outer transaction's commit decides
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        before = cursor.fetchone()[0]
        cursor.execute("PRAGMA synchronous=NORMAL")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA synchronous={int(before)}")


def message(event: LiveEvent) -> dict:
    return {"id": event.pk, **event.payload}


def missed(groups: list[str], since: int) -> Missed:
    """The messages of `groups` after id `since`, in id order. A negative `since` (a page
    rendered while the bookmark was unknown) is older than any log."""
    limit = REPLAY_LIMIT
    bounds = LiveEvent.objects.aggregate(first=Min("id"), last=Max("id"),
                                         since_at=Max("created_at", filter=Q(id=since)))
    first, last = bounds["first"], bounds["last"] or 0
    memory().add(_LAST, last, None)
    if since > last or (first is not None and since < first - 1):
        return Missed([], True, last)
    rows = list(LiveEvent.objects.filter(group__in=groups, id__gt=since, id__lte=last)
                .order_by("id")[:limit + 1])
    if len(rows) > limit:
        return Missed([], True, last)
    at = bounds["since_at"]
    return Missed(rows, False, last, at.timestamp() if at is not None else None)


def maybe_prune(newest: int) -> None:
    """Prune once every PRUNE_EVERY ids, from whichever process stored that id."""
    if newest % PRUNE_EVERY == 0:
        prune(newest)


def prune(newest: int, keep_for=KEEP_FOR, keep_rows: int = KEEP_ROWS) -> None:
    """Delete the rows older than `keep_for` or `keep_rows` ids or more behind `newest` — a
    prefix of ids, never `newest` itself, so the log is never emptied."""
    old = (LiveEvent.objects.filter(created_at__lt=timezone.now() - keep_for)
           .order_by("-created_at").values_list("id", flat=True).first())
    cut = min(max(old or 0, newest - keep_rows), newest - 1)
    if cut > 0:
        with connection.cursor() as cursor:  # one statement: no rows are read to delete them
            cursor.execute(f"DELETE FROM {LiveEvent._meta.db_table} WHERE id <= %s", [cut])
