"""Who may receive a plant's live messages — checked when a page subscribes and again for each
message it would receive.

`may_view(scope, plant_id)` is the one check; today a socket is admitted by its logged-in user
(the session, read by Channels' AuthMiddlewareStack), or by a kiosk link's secret in its query
string (plants.kiosk: read-only, that link's plant only, revocable).

Re-checking for each message reads the user's roles again (one query), so a user whose role was
revoked — in any web process — stops receiving at the next message. With many pages open, the
answer is shared by every socket of one viewer for at most RECHECK_S, and the reads of the
sockets that ask at the same moment are made in one go.
"""

import asyncio
import hashlib
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from plants import kiosk
from plants.access import may, user_with_roles
from plants.models import Plant
from plants.roles import Action
from spc.models import Characteristic

RECHECK_S = 1.0
BATCH_S = 0.002
MAX_SUBSCRIBED = 200  # characteristics one page may follow

_recent: dict[tuple, tuple[float, asyncio.Future]] = {}
_waiting: dict[asyncio.AbstractEventLoop, list] = {}  # reads asked for, not yet made


def kiosk_key(scope) -> str:
    """The kiosk link's secret the socket was opened with (`ws/live/?kiosk=…`), or ""."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("kiosk", [""])
    return values[0][:100]


def _logged_in(scope) -> bool:
    user = scope.get("user")
    return bool(user is not None and user.is_authenticated and user.is_active)


def admits(scope) -> bool:
    """Whether the socket may connect at all: a logged-in, active user, or a kiosk link's
    secret (checked against the plant when the page subscribes, and for each message)."""
    return _logged_in(scope) or bool(kiosk_key(scope))


def viewer_key(scope) -> tuple:
    key = kiosk_key(scope)
    if key and not _logged_in(scope):
        return ("kiosk", hashlib.sha256(key.encode()).hexdigest())
    return ("user", scope["user"].pk)


def may_view(scope, plant_id: int) -> bool:
    """Whether the socket's viewer may see the plant now (reads the roles — or the kiosk link —
    afresh): a revoked link or role stops the messages at the next one."""
    if _logged_in(scope):
        user = user_with_roles("WHERE u.id = %s", [scope["user"].pk])
        return user is not None and may(user, plant_id, Action.VIEW)
    key = kiosk_key(scope)
    return bool(key) and kiosk.verify(key, plant_id) is not None


def subscription(scope, code, characteristic_ids) -> tuple[int, list[int]] | None:
    """(plant id, the given characteristics that belong to it) when the viewer may see the plant
    of `code`, else None. Characteristics of other plants are dropped without a word."""
    if not isinstance(code, str) or not 0 < len(code) <= 16:
        return None
    plant_id = Plant.objects.filter(code=code.upper()).values_list("pk", flat=True).first()
    if plant_id is None or not may_view(scope, plant_id):
        return None
    ids = [i for i in characteristic_ids if type(i) is int and 0 < i < 2**63][:MAX_SUBSCRIBED]
    return plant_id, sorted(Characteristic.objects.filter(plant_id=plant_id, pk__in=ids)
                            .values_list("pk", flat=True))


async def may_view_now(scope, plant_id: int) -> bool:
    """may_view, as read at most RECHECK_S ago for this viewer and plant. The reads asked for
    within BATCH_S of each other (a message reaching many pages at once) are made together, in
    one hop to the database thread."""
    key, now = (*viewer_key(scope), plant_id), time.monotonic()
    hit = _recent.get(key)
    if hit is None or now - hit[0] > RECHECK_S or _unusable(hit[1]):
        if len(_recent) > 10_000:
            _forget_older_than(now - RECHECK_S)
        loop = asyncio.get_running_loop()
        hit = (now, loop.create_future())
        _recent[key] = hit
        waiting = _waiting.setdefault(loop, [])
        if not waiting:
            loop.call_later(BATCH_S, lambda: asyncio.ensure_future(_read_waiting(loop)))
        waiting.append((scope, plant_id, hit[1]))
    return await asyncio.shield(hit[1])


async def _read_waiting(loop) -> None:
    asked = _waiting.pop(loop, [])
    try:
        answers = await database_sync_to_async(_read_all)([(s, p) for s, p, _ in asked])
    except Exception as exc:  # each waiting socket sees the failure (and closes)
        for *_, answer in asked:
            answer.set_exception(exc)
        return
    for (*_, answer), allowed in zip(asked, answers, strict=True):
        answer.set_result(allowed)


def _read_all(asked) -> list[bool]:
    return [may_view(scope, plant_id) for scope, plant_id in asked]


def _unusable(answer: asyncio.Future) -> bool:
    """A failed read, or one of another event loop (tests run one loop after another)."""
    if answer.get_loop() is not asyncio.get_running_loop():
        return True
    return answer.done() and (answer.cancelled() or answer.exception() is not None)


def _forget_older_than(moment: float) -> None:
    for key in [k for k, (at, _) in _recent.items() if at < moment]:
        del _recent[key]
