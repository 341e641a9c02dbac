"""Handing a stored message to the channel layer, in id order, from synchronous code.

Where the send runs: on the event loop this process's consumers run on (the server's), when one
has connected — the in-memory layer's queues belong to that loop, and waking a consumer from
another thread is not thread-safe (asgiref's async_to_sync would run each send on a new loop in
a new thread, and so would channels-redis open a new connection per message). A process without
consumers (an API-only web process, a worker, a management command) sends on one private loop
thread of its own, whose Redis connections persist.

Order: the messages of a plant are stored and sent one at a time (`in_order`), each send
finished before the next message is stored, so every page receives a plant's messages in id
order whichever process stored them — the bookmark a page keeps is then exact. PostgreSQL: a
session advisory lock per plant (all web processes); SQLite: one lock in this process (the
embedded default is one process).
"""

import asyncio
import logging
import threading
from contextlib import contextmanager

from channels.layers import get_channel_layer
from django.db import connection

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 5.0
_LOCK_SPACE = 0x4C495645 << 32  # "LIVE": the advisory-lock keys of plants, plant id added

_server_loop: asyncio.AbstractEventLoop | None = None
_private: asyncio.AbstractEventLoop | None = None
_private_lock = threading.Lock()
_local_order = threading.Lock()


def serve_on(loop: asyncio.AbstractEventLoop) -> None:
    """Send on `loop` from now on: the loop a consumer of this process runs on."""
    global _server_loop
    _server_loop = loop


@contextmanager
def in_order(plant_id: int):
    """Held while one of the plant's messages is stored and sent."""
    if connection.vendor != "postgresql":
        with _local_order:
            yield
        return
    key = _LOCK_SPACE + int(plant_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def group_send(group: str, message: dict) -> None:
    """Send `message` to `group` and wait until the layer has it (SEND_TIMEOUT_S at most)."""
    loop = _loop()
    send = get_channel_layer().group_send(group, message)
    if _running_here(loop):  # called from the loop itself: it cannot wait for itself
        loop.create_task(send)
        return
    asyncio.run_coroutine_threadsafe(send, loop).result(SEND_TIMEOUT_S)


def _loop() -> asyncio.AbstractEventLoop:
    loop = _server_loop
    if loop is not None and loop.is_running() and not loop.is_closed():
        return loop
    return _private_loop()


def _running_here(loop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _private_loop() -> asyncio.AbstractEventLoop:
    global _private
    with _private_lock:
        if _private is None or _private.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="live-sender", daemon=True).start()
            _private = loop
        return _private
