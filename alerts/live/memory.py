"""The small state the live channel keeps besides its log (the newest id, which characteristics
pages watch, when each changed unwatched), where every web process that serves the channel sees
it and nothing evicts it on its own: in this process's memory with the in-memory channel layer
(which is one web process by nature), else in the Django cache — Redis when OPENSPC_REDIS_URL
is set (Django's local-memory cache would evict keys at 300 entries)."""

import threading
import time

from django.conf import settings
from django.core.cache import cache

PREFIX = "openspc:live:"


class Memory:
    """Keys with an optional expiry, in this process."""

    def __init__(self):
        self.values: dict[str, tuple[float, object]] = {}
        self.lock = threading.Lock()
        self.started = time.time()

    def get(self, key):
        with self.lock:
            until, value = self.values.get(key, (0.0, None))
            return value if until > time.time() else None

    def set(self, key, value, timeout=None):
        with self.lock:
            if len(self.values) > 100_000:
                now = time.time()
                self.values = {k: v for k, v in self.values.items() if v[0] > now}
            self.values[key] = (float("inf") if timeout is None else time.time() + timeout,
                                value)

    def add(self, key, value, timeout=None):
        if self.get(key) is None:
            self.set(key, value, timeout)

    def delete_many(self, keys):
        with self.lock:
            for key in keys:
                self.values.pop(key, None)

    def clear(self):
        with self.lock:
            self.values.clear()

    def epoch(self) -> float:
        """Since when this store remembers."""
        return self.started


class Cache:
    """The Django cache."""

    get = staticmethod(cache.get)
    set = staticmethod(cache.set)
    add = staticmethod(cache.add)
    delete_many = staticmethod(cache.delete_many)

    @staticmethod
    def clear():
        cache.delete(f"{PREFIX}epoch")

    @staticmethod
    def epoch() -> float:
        """Since when this store remembers: the first time it was asked."""
        cache.add(f"{PREFIX}epoch", time.time(), None)
        return cache.get(f"{PREFIX}epoch") or time.time()


_memory = Memory()


def store() -> Memory | type[Cache]:
    layer = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    return _memory if layer.endswith("InMemoryChannelLayer") else Cache
