"""The live consumer against real channel layers (in-memory, and channels-redis when Redis
answers): who receives what, access re-checked per message, catch-up after a reconnect.

Messages are produced the real way — a sample recorded through spc.pipeline commits, its
after-commit event reaches the publisher, which stores and sends — so these tests run on
committed rows (transactional_db) and call the ORM through database_sync_to_async.
"""

import asyncio
import json
import os
import time
import uuid

import pytest
import redis
from asgiref.testing import ApplicationCommunicator
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from alerts.acknowledgment import acknowledge
from alerts.consumers import BAD_MESSAGE, NO_ACCESS, LiveConsumer
from alerts.live import access, char_group, last_event_id, log, send_html, watching
from alerts.models import LiveEvent
from openspc.routing import websocket_urlpatterns
from plants import grants
from plants.models import Level
from plants.tests.factories import NodeFactory
from spc import limit_versions
from spc.models import ReasonCode
from spc.pipeline import record_sample
from spc.sample_input import SampleRequest
from spc.tests.factories import CharacteristicFactory

pytestmark = [pytest.mark.anyio, pytest.mark.django_db(transaction=True)]
QUIET_S = 0.3  # how long "nothing arrives" is watched
REDIS_URL = os.environ.get("OPENSPC_REDIS_URL", "redis://127.0.0.1:6379/12")


class WebsocketCommunicator(ApplicationCommunicator):
    """channels.testing.WebsocketCommunicator, whose package cannot be imported without daphne
    (channels.testing imports its live server): a socket to `app` with the same methods."""

    opened: list = []  # every socket of the test, stopped by the `layer` fixture

    def __init__(self, app, path, headers=None):
        super().__init__(app, {"type": "websocket", "path": path, "query_string": b"",
                               "headers": headers or [], "subprotocols": []})
        self.opened.append(self)

    async def connect(self, timeout=1):
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        accepted = response["type"] == "websocket.accept"
        return accepted, None if accepted else response.get("code", 1000)

    async def send_to(self, text_data):
        await self.send_input({"type": "websocket.receive", "text": text_data})

    async def send_json_to(self, data):
        await self.send_to(json.dumps(data))

    async def receive_json_from(self, timeout=1):
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send", response
        return json.loads(response["text"])

    async def disconnect(self, code=1000, timeout=1):
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def layer(request, settings, monkeypatch):
    monkeypatch.setattr(watching, "MARGIN_S", 0.0)  # no slack for clocks: one process here
    prefix = f"test-live-{uuid.uuid4().hex[:8]}:"
    if request.param == "memory":
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    else:
        settings.CHANNEL_LAYERS = {"default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": prefix}}}
    await database_sync_to_async(log.forget)()  # kept from a rolled-back test
    await database_sync_to_async(watching.forget)()
    await database_sync_to_async(watching.epoch)()  # remembering from now on
    yield request.param
    for socket in WebsocketCommunicator.opened:  # as the server does when a socket goes away
        if not socket.future.done():
            await socket.disconnect()
    WebsocketCommunicator.opened.clear()
    if request.param == "redis":  # the layer's connections close with their event loops
        keys = redis.Redis.from_url(REDIS_URL)
        for key in keys.scan_iter(match=f"{prefix}*"):
            keys.delete(key)


@pytest.fixture
def home(cast):
    """A characteristic of the cast's plant with limits, and one of the other plant."""
    ch = CharacteristicFactory(node=NodeFactory(plant=cast.plant, level=Level.LINE),
                               name="Piston diameter")
    limit_versions.manual(ch, None, "known", center=10.0, sigma=1.0)
    theirs = CharacteristicFactory(node=NodeFactory(plant=cast.other_plant, level=Level.LINE))
    limit_versions.manual(theirs, None, "known", center=10.0, sigma=1.0)
    watching.forget([char_group(ch.pk), char_group(theirs.pk)])  # ids come back on SQLite
    return ch, theirs


async def page(user, plant, characteristics=(), since=None):
    """A page's socket, connected and subscribed; `replayed`: what it was sent at once."""
    socket = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/")
    socket.scope["user"] = user
    connected, _ = await socket.connect()
    assert connected
    await socket.send_json_to({"subscribe": {"plant": plant.code,
                                             "characteristics": [c.pk for c in characteristics]},
                               "since": since})
    socket.replayed = await ping(socket)
    return socket


async def ping(socket):
    """Round trip: every message sent before is handled once the pong is back. The messages
    that came before the pong."""
    await socket.send_json_to({"ping": True})
    before = []
    while (message := await socket.receive_json_from(timeout=5))["kind"] != "pong":
        before.append(message)
    return before


async def record(ch, value):
    return (await database_sync_to_async(record_sample)(ch, SampleRequest(values=[value]))).sample


async def messages(socket, count):
    return [await socket.receive_json_from(timeout=5) for _ in range(count)]


async def closed_with(socket):
    output = await socket.receive_output(timeout=5)
    assert output["type"] == "websocket.close"
    return output.get("code")


async def test_an_anonymous_socket_is_refused(layer):
    socket = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/")
    socket.scope["user"] = AnonymousUser()
    connected, _ = await socket.connect()
    assert not connected


async def test_through_the_session_stack_only_a_logged_in_user_connects(layer, cast):
    app = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
    anonymous = WebsocketCommunicator(app, "/ws/live/")
    assert not (await anonymous.connect())[0]

    def log_in():
        client = Client()
        client.force_login(cast.operator)
        return client.cookies["sessionid"].value

    session = await database_sync_to_async(log_in)()
    socket = WebsocketCommunicator(app, "/ws/live/",
                                   headers=[(b"cookie", f"sessionid={session}".encode())])
    assert (await socket.connect())[0]
    await socket.send_json_to({"subscribe": {"plant": "HOME", "characteristics": []},
                               "since": None})
    await ping(socket)
    await socket.disconnect()


async def test_a_new_sample_reaches_its_chart_and_a_violation_every_page_of_the_plant(
        layer, cast, home):
    ch, _ = home
    since = await database_sync_to_async(last_event_id)()
    chart = await page(cast.operator, cast.plant, [ch], since)
    elsewhere = await page(cast.supervisor, cast.plant, [], since)
    sample = await record(ch, 30.0)  # rule 1

    points, violation = await messages(chart, 2)
    assert points["kind"] == "points" and points["characteristic"] == ch.pk
    assert points["plant"] == cast.plant.pk and points["id"] > since
    assert points["data"]["sample_id"] == [sample.pk]
    assert points["data"]["primary"]["rules"] == [[1]]
    [raised] = points["violations"]
    assert (raised["rule"], raised["sample_id"], raised["requires_ack"]) == (1, sample.pk, True)
    assert set(raised) == {"id", "rule", "chart", "sample_id", "severity", "requires_ack"}
    assert violation["kind"] == "violation" and violation["id"] > points["id"]
    assert violation["message"].startswith("Rule 1 on Piston diameter — ")
    assert violation["url"] == f"/p/HOME/c/{ch.pk}/"
    assert violation["violation_ids"] == [raised["id"]]
    # a page that draws no chart gets the toast, not the points
    assert await elsewhere.receive_json_from(timeout=5) == violation
    assert await elsewhere.receive_nothing(QUIET_S)
    await chart.disconnect()
    await elsewhere.disconnect()


async def test_an_operator_of_another_plant_gets_nothing_even_with_a_forged_subscription(
        layer, cast, home):
    ch, theirs = home
    refused = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/")
    refused.scope["user"] = cast.outsider
    assert (await refused.connect())[0]
    await refused.send_json_to({"subscribe": {"plant": "HOME", "characteristics": [ch.pk]},
                                "since": 0})
    assert await closed_with(refused) == NO_ACCESS

    # their own plant, naming our characteristic: it is dropped from the subscription
    forged = await page(cast.outsider, cast.other_plant, [ch, theirs])
    await record(ch, 30.0)
    await database_sync_to_async(send_html)(cast.plant, '<p id="x" hx-swap-oob="true">ours</p>')
    assert await forged.receive_nothing(QUIET_S)
    await record(theirs, 10.5)  # their own characteristic still reaches them
    assert (await forged.receive_json_from(timeout=5))["characteristic"] == theirs.pk
    await forged.disconnect()


async def test_a_user_whose_role_is_revoked_stops_receiving_at_the_next_message(
        layer, cast, home):
    ch, _ = home
    chart = await page(cast.operator, cast.plant, [ch])
    await record(ch, 10.1)
    assert (await chart.receive_json_from(timeout=5))["kind"] == "points"

    await database_sync_to_async(grants.revoke_role)(cast.operator, cast.plant)
    await asyncio.sleep(access.RECHECK_S + 0.05)  # the longest a checked answer is reused
    await record(ch, 10.2)
    assert await closed_with(chart) == NO_ACCESS


async def test_a_page_that_reconnects_gets_exactly_what_it_missed_in_order(layer, cast, home):
    ch, _ = home
    chart = await page(cast.operator, cast.plant, [ch], await database_sync_to_async(
        last_event_id)())
    await record(ch, 10.1)
    seen = (await chart.receive_json_from(timeout=5))["id"]
    await chart.disconnect()

    missed = [await record(ch, v) for v in (10.2, 9.8, 30.0)]  # the last one raises rule 1

    def acknowledge_it():
        code = ReasonCode.objects.filter(plant=cast.plant).first()
        violations = list(missed[-1].violations.all())
        acknowledge(violations, cast.supervisor, code.pk, "checked")

    await database_sync_to_async(acknowledge_it)()
    again = await page(cast.operator, cast.plant, [ch], seen)
    replayed = again.replayed
    assert [m["kind"] for m in replayed] == ["points", "points", "points", "violation",
                                             "acknowledged"]
    assert [m["data"]["sample_id"] for m in replayed[:3]] == [[s.pk] for s in missed]
    ids = [m["id"] for m in replayed]
    assert ids == sorted(ids) and ids[0] > seen and len(set(ids)) == 5
    assert await again.receive_nothing(QUIET_S)  # nothing twice

    newest = await record(ch, 10.0)  # and live again after the replay
    assert (await again.receive_json_from(timeout=5))["data"]["sample_id"] == [newest.pk]
    await again.disconnect()


async def test_a_bookmark_older_than_the_log_gets_resync(layer, cast, home, monkeypatch):
    ch, _ = home
    await watching.watch([char_group(ch.pk)])  # a page watches: the points are logged
    for v in (10.1, 10.2, 10.3, 10.4):
        await record(ch, v)
    newest = await database_sync_to_async(last_event_id)()
    await database_sync_to_async(log.prune)(newest, keep_rows=2)  # keeps the last two ids
    first = await database_sync_to_async(
        lambda: LiveEvent.objects.order_by("id").first().pk)()
    assert first == newest - 1

    chart = await page(cast.operator, cast.plant, [ch], first - 2)
    assert chart.replayed == [{"kind": "resync", "last": newest}]
    await record(ch, 10.5)  # then live, after the new bookmark
    live = (await chart.receive_json_from(timeout=5))["id"]
    assert live > newest
    await chart.disconnect()

    just_in_time = await page(cast.operator, cast.plant, [ch], first - 1)
    assert [m["id"] for m in just_in_time.replayed if "id" in m] == [first, newest, live]
    await just_in_time.disconnect()

    from_another_database = await page(cast.operator, cast.plant, [ch], live + 1000)
    assert from_another_database.replayed == [{"kind": "resync", "last": live}]
    await from_another_database.disconnect()

    monkeypatch.setattr(log, "REPLAY_LIMIT", 1)
    too_many = await page(cast.operator, cast.plant, [ch], first - 1)
    assert [m["kind"] for m in too_many.replayed] == ["resync"]
    await too_many.disconnect()


async def test_a_chart_nobody_watched_is_refreshed_for_what_changed_after_the_page_knew_it(
        layer, cast, home):
    ch, _ = home
    since = await database_sync_to_async(last_event_id)()
    before = time.time()
    await asyncio.sleep(0.01)
    await record(ch, 10.1)  # no page watches it: no message, only the moment is noted
    assert await database_sync_to_async(log.newest_id)() == since
    await asyncio.sleep(0.01)
    after = time.time()

    def opened(at):
        return {"subscribe": {"plant": "HOME", "characteristics": [ch.pk]}, "since": since,
                "at": at}

    stale = await page(cast.operator, cast.plant)
    await stale.send_json_to(opened(before))  # rendered before the sample
    assert await ping(stale) == [{"kind": "refresh", "plant": cast.plant.pk,
                                  "characteristic": ch.pk, "reason": "samples"}]
    fresh = await page(cast.operator, cast.plant)
    await fresh.send_json_to(opened(after))  # rendered after it: its data has the sample
    assert await ping(fresh) == []
    await record(ch, 10.2)  # watched now (the pages subscribed): drawn and sent to both
    for socket in (stale, fresh):
        assert (await socket.receive_json_from(timeout=5))["kind"] == "points"


async def test_fragments_and_acknowledgments_reach_every_page_of_the_plant(layer, cast, home):
    ch, _ = home
    dashboard = await page(cast.operator, cast.plant)
    fragment = '<span id="todo-count" hx-swap-oob="true">3</span>'
    await database_sync_to_async(send_html)(cast.plant, fragment)
    await database_sync_to_async(send_html)(cast.plant, "<b>chart only</b>", characteristic=ch)
    message = await dashboard.receive_json_from(timeout=5)
    assert message == {"id": message["id"], "kind": "html", "plant": cast.plant.pk,
                       "html": fragment}
    assert await dashboard.receive_nothing(QUIET_S)
    await dashboard.disconnect()


async def test_a_message_it_cannot_read_closes_the_socket(layer, cast):
    socket = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/")
    socket.scope["user"] = cast.operator
    assert (await socket.connect())[0]
    await socket.send_to(text_data="not json")
    assert await closed_with(socket) == BAD_MESSAGE
