"""What the live channel remembers besides its log: which characteristics a page watches now,
and when each last changed while none did.

A consumer marks the groups of its characteristics as watched when its page subscribes and at
each of the page's pings, for WATCH_S. The publisher draws a characteristic's new points (chart
data: the costly part of a message, and a row in the log) only while it is watched; otherwise
it only notes the moment (`changed_unwatched`) — no database work at all, so a sample nobody
looks at costs what it cost before the live channel. A page that subscribes says up to when it
knows the characteristic (`at`: when it was rendered, or its last pong); each characteristic
that changed unwatched after that moment gets a `refresh` from the consumer, and the page
re-reads it. A page that drops off keeps its marks for up to WATCH_S, so a short disconnection
still replays the points themselves.

Where it is kept: alerts.live.memory. `epoch()` is when the store began to remember: a page
that knows less recent things than that is refreshed whole.
"""

import time

from django.core.cache import cache

from alerts.live.memory import PREFIX, Cache, store

WATCH_S = 150  # live.js pings every 60 s
KEEP_S = 24 * 3600  # as long as the log: an older bookmark gets a resync anyway
MARGIN_S = 5.0  # clocks of web processes and a page's render time are compared with slack


def _watch_key(group: str) -> str:
    return f"{PREFIX}watch:{group}"


def _changed_key(group: str) -> str:
    return f"{PREFIX}unwatched:{group}"


async def watch(groups) -> None:
    """Mark `groups` as watched for WATCH_S (a consumer, on subscribe and at each ping)."""
    keys = {_watch_key(g): 1 for g in groups}
    where = store()
    if where is not Cache:
        for key in keys:
            where.set(key, 1, WATCH_S)
    elif keys:
        await cache.aset_many(keys, WATCH_S)  # off the event loop: one round trip to Redis


def watched(group: str) -> bool:
    return store().get(_watch_key(group)) is not None


def changed_unwatched(group: str) -> None:
    """Note that `group`'s characteristic changed while no page watched it."""
    store().set(_changed_key(group), time.time(), KEEP_S)


def forget(groups=None) -> None:
    """Forget the marks of `groups` — of all, and when remembering began, without them (tests:
    ids come back after a rolled-back test on SQLite)."""
    where = store()
    if groups is None:
        where.clear()
        return
    where.delete_many([k for g in groups for k in (_watch_key(g), _changed_key(g))])


def epoch() -> float:
    """Since when changes nobody watched are remembered (a Unix time)."""
    return store().epoch()


def changed_since(groups, moment: float | None) -> list[str]:
    """The groups that changed unwatched after `moment` (a Unix time; None: unknown) — every
    group when the store does not remember back to then."""
    where = store()
    if moment is None or where.epoch() > moment - MARGIN_S:
        return list(groups)
    return [g for g in groups if (where.get(_changed_key(g)) or 0.0) >= moment - MARGIN_S]
