"""The live channel: one WebSocket per browser page, fed by the after-commit events.

    spc.events / alerts.events ──▶ publisher ──▶ log (LiveEvent) ──▶ delivery: group_send
                                   one message                        live.plant.<id>
                                   per change                         live.char.<id>
                                                                            │
    browser (static/openspc/live.js) ◀── alerts.consumers.LiveConsumer ◀───┘
                                         access re-checked per event

Messages are JSON objects, built once per change (never per page), each with the id of its row
in the log so that a page that reconnects asks for what it missed (`since`):

    points        {id, kind, plant, characteristic, data, violations}   → the characteristic
    refresh       {id, kind, plant, characteristic, reason}             → the characteristic
    acknowledged  {id, kind, plant, characteristics, sample_ids, violation_ids} → the plant
    violation     {id, kind, plant, characteristic, characteristic_name, url, message,
                   violation_ids, severity}                                 → the plant
    html          {id, kind, plant, html}    htmx out-of-band fragments → the plant or one
                                             characteristic (send_html)
    resync        {kind, last}               the log no longer holds what the page missed

A page joins with templates/includes/live.html (base.html does so for every plant page).
"""

from alerts.live.groups import char_group, plant_group
from alerts.live.log import last_event_id
from alerts.live.publisher import send_html

__all__ = ["char_group", "last_event_id", "plant_group", "send_html"]
