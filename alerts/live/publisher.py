"""The one publisher of the live channel: listens to the after-commit events, builds each message
once, stores it in the log and sends it to one group.

Listeners run in the thread that committed, after its commit (spc.events.publish), so they read
what was committed on the same connection. A message that cannot be built or stored is logged
by the event's send_robust; one that cannot be sent is logged here — the page that missed it
gets it from the log when it reconnects. Neither ever fails the request.
"""

import logging

import orjson
from django.db import transaction

from alerts import events as alert_events
from alerts.live import delivery, log, messages, watching
from alerts.live.groups import char_group, plant_group
from spc import annotations, events

logger = logging.getLogger(__name__)


def publish(plant_id: int, group: str, message: dict) -> int:
    """Store `message` (kind, plant, …; no id) and send it to `group`; its id."""
    with delivery.in_order(plant_id):
        row = log.store(plant_id, group, message["kind"], message)
        _send(plant_id, group, row)
    log.maybe_prune(row.pk)
    return row.pk


def _send(plant_id: int, group: str, row) -> None:
    text = orjson.dumps(log.message(row)).decode()
    try:
        delivery.group_send(group, {"type": "live.event", "id": row.pk, "plant": plant_id,
                                    "text": text})
    except Exception:
        logger.exception("Live message %s (%s) was stored but not sent", row.pk, row.kind)


def send_html(plant, html: str, characteristic=None) -> None:
    """Push htmx out-of-band fragments (elements with `hx-swap-oob`) to every page of `plant`
    (a Plant or its id), or only to the pages of `characteristic` (one or its id) — after the
    current transaction commits, like every other live message."""
    plant_id = getattr(plant, "pk", plant)
    group = (plant_group(plant_id) if characteristic is None
             else char_group(getattr(characteristic, "pk", characteristic)))
    message = messages.html(plant_id, html)
    transaction.on_commit(lambda: publish(plant_id, group, message), robust=True)


def on_samples_recorded(sender, event: events.SamplesRecorded, **kwargs):
    """New points for the pages that watch the characteristic — when none does, only a note of
    the moment (alerts.live.watching), unless a page started watching meanwhile — and a toast
    for every page of the plant when they raised violations."""
    group = char_group(event.characteristic_id)
    draw, late = watching.watched(group), False
    if not draw:
        watching.changed_unwatched(group)  # noted first: a page subscribing now sees either
        late = watching.watched(group)  # the note or this refresh
    for kind, message in messages.recorded(event, draw):
        if kind == "violation":
            publish(event.plant_id, plant_group(event.plant_id), message)
        elif draw or late:
            publish(event.plant_id, group, message)


def on_refresh(sender, event, **kwargs):
    publish(event.plant_id, char_group(event.characteristic_id), messages.refresh(
        event.plant_id, event.characteristic_id, messages.REFRESH_REASONS[type(event)]))


def on_annotations_changed(sender, event, **kwargs):
    """A note added or deleted: the characteristic's charts draw their notes again."""
    publish(event.plant_id, char_group(event.characteristic_id), messages.refresh(
        event.plant_id, event.characteristic_id, "annotations"))


def on_acknowledged(sender, event: alert_events.ViolationsAcknowledged, **kwargs):
    publish(event.plant_id, plant_group(event.plant_id), messages.acknowledged(event))


def connect() -> None:
    """Listen to every event a page shows (alerts.apps.AlertsConfig.ready)."""
    events.samples_recorded.connect(on_samples_recorded, dispatch_uid="live.recorded")
    for signal in (events.samples_rejudged, events.sample_edited, events.limits_changed,
                   events.characteristic_changed):
        signal.connect(on_refresh, dispatch_uid=f"live.refresh.{id(signal)}")
    alert_events.violations_acknowledged.connect(on_acknowledged, dispatch_uid="live.ack")
    annotations.annotations_changed.connect(on_annotations_changed, dispatch_uid="live.notes")
