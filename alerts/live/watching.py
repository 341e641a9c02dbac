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

Where it is kept: with the in-memory channel layer (one web process) in this process's memory;
otherwise in the Django cache, which is Redis when OPENSPC_REDIS_URL is set, shared by every
web process. `epoch()` is when the store began to remember: a page that knows less recent
things than that is refreshed whole.
"""

import threading
import time

from django.conf import settings
from django.core.cache import cache

WATCH_S = 150  # live.js pings every 60 s
KEEP_S = 24 * 3600  # as long as the log: an older bookmark gets a resync anyway
MARGIN_S = 5.0  # clocks of web processes and a page's render time are compared with slack
_PREFIX = "openspc:live:"


class _Memory:
    """Keys with an expiry, in this process (the in-memory layer has no other process)."""

    def __init__(self):
        self.values: dict[str, tuple[float, object]] = {}
        self.lock = threading.Lock()
        self.started = time.time()

    def get(self, key):
        with self.lock:
            until, value = self.values.get(key, (0.0, None))
            return value if until > time.time() else None

    def set(self, key, value, timeout):
        with self.lock:
            if len(self.values) > 100_000:
                now = time.time()
                self.values = {k: v for k, v in self.values.items() if v[0] > now}
            self.values[key] = (time.time() + timeout, value)

    def epoch(self) -> float:
        return self.started


class _Cache:
    """The Django cache (Redis when several processes serve the site)."""

    get = staticmethod(cache.get)

    @staticmethod
    def set(key, value, timeout):
        cache.set(key, value, timeout)

    @staticmethod
    def epoch() -> float:
        cache.add(f"{_PREFIX}epoch", time.time(), None)
        return cache.get(f"{_PREFIX}epoch") or time.time()


_memory = _Memory()


def _store():
    layer = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    return _memory if layer.endswith("InMemoryChannelLayer") else _Cache


def _watch_key(group: str) -> str:
    return f"{_PREFIX}watch:{group}"


def _changed_key(group: str) -> str:
    return f"{_PREFIX}unwatched:{group}"


async def watch(groups) -> None:
    """Mark `groups` as watched for WATCH_S (a consumer, on subscribe and at each ping)."""
    keys = {_watch_key(g): 1 for g in groups}
    store = _store()
    if store is _memory:
        for key in keys:
            store.set(key, 1, WATCH_S)
    elif keys:
        await cache.aset_many(keys, WATCH_S)  # off the event loop: one round trip to Redis


def watched(group: str) -> bool:
    return _store().get(_watch_key(group)) is not None


def changed_unwatched(group: str) -> None:
    """Note that `group`'s characteristic changed while no page watched it."""
    _store().set(_changed_key(group), time.time(), KEEP_S)


def forget(groups=None) -> None:
    """Forget the marks of `groups` — of all, and when remembering began, without them (tests:
    ids come back after a rolled-back test on SQLite)."""
    if groups is None:
        _memory.values.clear()
        cache.delete(f"{_PREFIX}epoch")
        return
    keys = [k for g in groups for k in (_watch_key(g), _changed_key(g))]
    for key in keys:
        _memory.values.pop(key, None)
    cache.delete_many(keys)


def epoch() -> float:
    """Since when changes nobody watched are remembered (a Unix time)."""
    return _store().epoch()


def changed_since(groups, moment: float | None) -> list[str]:
    """The groups that changed unwatched after `moment` (a Unix time; None: unknown) — every
    group when the store does not remember back to then."""
    store = _store()
    if moment is None or store.epoch() > moment - MARGIN_S:
        return list(groups)
    return [g for g in groups if (store.get(_changed_key(g)) or 0.0) >= moment - MARGIN_S]
