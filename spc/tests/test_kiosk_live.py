# ruff: noqa: F811 - the live consumer tests' fixtures are imported and used by name
"""A kiosk link over the live channel: a wall display's socket, with no login, receives its
plant's messages until the link is revoked, and nothing of another plant."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser

from alerts.consumers import LiveConsumer
from alerts.live import access, last_event_id
from alerts.tests.test_live_consumer import (  # noqa: F401 - fixtures
    QUIET_S,
    WebsocketCommunicator,
    anyio_backend,
    home,
    layer,
    ping,
    record,
)
from plants import kiosk

pytestmark = [pytest.mark.anyio, pytest.mark.django_db(transaction=True)]


async def wall(plant, key, characteristics, since):
    socket = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/")
    socket.scope["user"] = AnonymousUser()
    socket.scope["query_string"] = f"kiosk={key}".encode()
    connected, _ = await socket.connect()
    assert connected
    await socket.send_json_to({"subscribe": {"plant": plant.code,
                                             "characteristics": [c.pk for c in characteristics]},
                               "since": since})
    await ping(socket)
    return socket


async def test_a_kiosk_link_receives_its_plant_until_revoked(layer, cast, home):
    ch, theirs = home
    link, key = await database_sync_to_async(kiosk.issue)(ch.node, "Line wall")
    since = await database_sync_to_async(last_event_id)()
    screen = await wall(cast.plant, key, [ch, theirs], since)
    await record(ch, 10.2)
    points = await screen.receive_json_from(timeout=5)
    assert points["kind"] == "points" and points["characteristic"] == ch.pk
    await record(theirs, 10.2)  # another plant's characteristic, named in the subscription
    assert await screen.receive_nothing(QUIET_S)

    await database_sync_to_async(kiosk.revoke)(link)
    await asyncio.sleep(access.RECHECK_S + 0.1)  # a viewer's answer is shared for up to 1 s
    await record(ch, 10.1)
    # the next message is not delivered: the socket is closed for lack of access
    output = await screen.receive_output(timeout=5)
    assert output["type"] == "websocket.close"


async def test_a_kiosk_link_of_one_plant_opens_nothing_of_another(layer, cast, home):
    ch, theirs = home
    _, key = await database_sync_to_async(kiosk.issue)(ch.node, "Line wall")
    socket = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/")
    socket.scope["user"] = AnonymousUser()
    socket.scope["query_string"] = f"kiosk={key}".encode()
    assert (await socket.connect())[0]
    await socket.send_json_to({"subscribe": {"plant": cast.other_plant.code,
                                             "characteristics": [theirs.pk]}, "since": None})
    output = await socket.receive_output(timeout=5)
    assert output["type"] == "websocket.close"
    await record(theirs, 10.0)


async def test_a_wrong_key_connects_but_subscribes_to_nothing(layer, cast, home):
    ch, _ = home
    socket = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/")
    socket.scope["user"] = AnonymousUser()
    socket.scope["query_string"] = b"kiosk=not-a-link"
    assert (await socket.connect())[0]
    await socket.send_json_to({"subscribe": {"plant": cast.plant.code,
                                             "characteristics": [ch.pk]}, "since": None})
    assert (await socket.receive_output(timeout=5))["type"] == "websocket.close"
