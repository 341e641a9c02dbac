"""Who may receive a plant's live messages — checked when a page subscribes and again for each
message it would receive.

`may_view(scope, plant_id)` is the one check; today a socket is admitted by its logged-in user
(the session, read by Channels' AuthMiddlewareStack). A kiosk link (a read-only secret for one
node's plant) will be a second way in: `admits` and `may_view` are where it is recognised,
`viewer_key` names it.

Re-checking for each message reads the user's roles again (one query), so a user whose role was
revoked — in any web process — stops receiving at the next message. With many pages open, the
answer is shared by every socket of one viewer for at most RECHECK_S, and sockets asking at the
same moment wait for one read.
"""

import asyncio
import time

from channels.db import database_sync_to_async

from plants.access import may, user_with_roles
from plants.models import Plant
from plants.roles import Action
from spc.models import Characteristic

RECHECK_S = 1.0
MAX_SUBSCRIBED = 200  # characteristics one page may follow

_recent: dict[tuple, tuple[float, asyncio.Future]] = {}


def admits(scope) -> bool:
    """Whether the socket may connect at all: a logged-in, active user."""
    user = scope.get("user")
    return bool(user is not None and user.is_authenticated and user.is_active)


def viewer_key(scope) -> tuple:
    return ("user", scope["user"].pk)


def may_view(scope, plant_id: int) -> bool:
    """Whether the socket's viewer may see the plant now (reads the roles afresh)."""
    if not admits(scope):
        return False
    user = user_with_roles("WHERE u.id = %s", [scope["user"].pk])
    return user is not None and may(user, plant_id, Action.VIEW)


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
    """may_view, as read at most RECHECK_S ago for this viewer and plant."""
    key, now = (*viewer_key(scope), plant_id), time.monotonic()
    hit = _recent.get(key)
    if hit is None or now - hit[0] > RECHECK_S or _unusable(hit[1]):
        if len(_recent) > 10_000:
            _forget_older_than(now - RECHECK_S)
        hit = (now, asyncio.ensure_future(database_sync_to_async(may_view)(scope, plant_id)))
        _recent[key] = hit
    return await asyncio.shield(hit[1])


def _unusable(answer: asyncio.Future) -> bool:
    """A failed read, or one of another event loop (tests run one loop after another)."""
    if answer.get_loop() is not asyncio.get_running_loop():
        return True
    return answer.done() and (answer.cancelled() or answer.exception() is not None)


def _forget_older_than(moment: float) -> None:
    for key in [k for k, (at, _) in _recent.items() if at < moment]:
        del _recent[key]
