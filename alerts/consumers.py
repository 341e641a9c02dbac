"""The live consumer: one WebSocket per browser page (route ws/live/, static/openspc/live.js).

Thin: it refuses anonymous sockets, joins the groups of the plant and characteristics the page
subscribes to once the viewer may see that plant, replays what the page missed since its
bookmark, then forwards each message after checking access again. Messages arrive already
encoded (alerts.live.publisher): forwarding one costs no JSON work per page.

The page sends  {"subscribe": {"plant": "<code>", "characteristics": [ids]}, "since": <id>|null,
"at": <time>|null} (again whenever what it shows changes): `since` the last message id it has,
`at` the server's Unix time up to which it knows its charts (when it was rendered, or its last
pong). A page without a bookmark (null) gets no replay; a negative one (the page was rendered
when the bookmark was not known) gets `resync`. And {"ping": true} now and then, answered
{"kind": "pong", "at": <time>}.
Close codes: 4400 a message it cannot read, 4403 no (longer any) access to the plant — the
page does not reconnect after either.
"""

import asyncio
import json
import time

import orjson
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from alerts.live import access, delivery, log, watching
from alerts.live.groups import char_group, plant_group

BAD_MESSAGE, NO_ACCESS = 4400, 4403
REJOIN_S = 3600  # channel layers forget group members after a day (group_expiry)


class LiveConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        if not access.admits(self.scope):
            await self.close()  # before accept: the handshake is refused (403)
            return
        delivery.serve_on(asyncio.get_running_loop())
        self.plant_id, self.floor, self.joined_at = None, None, 0.0
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            content = json.loads(text_data or "")
        except ValueError:
            content = None
        if not isinstance(content, dict):
            await self.close(BAD_MESSAGE)
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        if "subscribe" in content:
            await self.subscribe(content["subscribe"], content.get("since"), content.get("at"))
        elif content.get("ping"):
            if self.groups and time.monotonic() - self.joined_at > REJOIN_S:
                await self._join(self.groups)
            await watching.watch(self.groups[1:])
            await self.send_json({"kind": "pong", "at": time.time()})

    async def subscribe(self, wanted, since, at=None):
        if not isinstance(wanted, dict) or not isinstance(wanted.get("characteristics", []), list) \
                or not (since is None or type(since) is int) \
                or not (at is None or type(at) in (int, float)):
            await self.close(BAD_MESSAGE)
            return
        found = await database_sync_to_async(access.subscription)(
            self.scope, wanted.get("plant"), wanted.get("characteristics", []))
        await self._leave()
        if found is None:
            await self.close(NO_ACCESS)
            return
        self.plant_id, characteristics = found
        await watching.watch(map(char_group, characteristics))  # drawn for this page from now
        await self._join([plant_group(self.plant_id), *map(char_group, characteristics)])
        await self._catch_up(since if since is not None else self.floor, at)

    async def _catch_up(self, since, at):
        """Replay the messages of the joined groups after `since` (joined first: nothing that is
        sent from now on can fall between the replay and the forwarding), then ask the page to
        re-read each characteristic that changed unwatched after `at` (alerts.live.watching)."""
        if since is None:
            return
        missed = await database_sync_to_async(log.missed)(self.groups, since)
        if missed.resync:
            self.floor = missed.last
            await self.send_json({"kind": "resync", "last": missed.last})
            return
        self.floor = since
        for event in missed.events:
            self.floor = event.pk
            await self.send(text_data=orjson.dumps(log.message(event)).decode())
        known = at if at is not None else missed.since_at
        for group in watching.changed_since(self.groups[1:], known):
            await self.send_json({"kind": "refresh", "plant": self.plant_id,
                                  "characteristic": int(group.rsplit(".", 1)[1]),
                                  "reason": "samples"})

    async def live_event(self, message):
        """A message sent to one of the joined groups (alerts.live.publisher.publish)."""
        if message["plant"] != self.plant_id:
            return  # from a group this socket left
        if self.floor is not None and message["id"] <= self.floor:
            return  # replayed already
        if not await access.may_view_now(self.scope, self.plant_id):
            await self._leave()
            await self.close(NO_ACCESS)
            return
        self.floor = message["id"]
        await self.send(text_data=message["text"])

    async def _join(self, groups):
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups, self.joined_at = list(groups), time.monotonic()

    async def _leave(self):
        for group in self.groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups, self.plant_id = [], None
