"""The live channel: one WebSocket per browser page, fed by the after-commit events.

    spc.events / alerts.events ──▶ publisher ──▶ log (LiveEvent) ──▶ delivery: group_send
                                   one message                        live.plant.<id>
                                   per change                         live.char.<id>
                                                                            │
    browser (static/openspc/live.js) ◀── alerts.consumers.LiveConsumer ◀───┘
                                         access re-checked per event

Messages are JSON objects, built once per change (never per page), each with the id of its row
in the log so that a page that reconnects asks for what it missed (`since`):

    points        {id, kind, plant, characteristic, data, series, violations}  → the characteristic
                  data: the chart-data endpoint's JSON for the new samples (they may come with
                  samples already drawn at the same time: merge by sample_id); series: what
                  each trace of spc.charts gains; violations: [{id, rule, chart, sample_id,
                  severity, requires_ack}] raised by them
    refresh       {id, kind, plant, characteristic, reason}               → the characteristic
                  reason: rejudged | edited | limits | configuration | annotations | samples
                  (new samples sent without their points: too many at once, or no page watched
                  them — that one may come from the consumer on subscribing, without an id)
    acknowledged  {id, kind, plant, characteristics, sample_ids, violation_ids}    → the plant
    violation     {id, kind, plant, characteristic, characteristic_name, url, message,
                   violation_ids, severity, sample_id, inspector_url}              → the plant
                  url: the chart; sample_id, inspector_url: the sample of the worst one
    html          {id, kind, plant, html}    htmx out-of-band fragments (send_html) → the plant
                                             or one characteristic
    resync        {kind, last}               the log no longer holds what the page missed: it
                                             re-reads everything; `last` is its new bookmark

A page joins with templates/includes/live.html (base.html does so for every plant page).
Points are drawn only for characteristics a page watches (alerts.live.watching): a sample
nobody looks at costs no message, no row and no query.
"""

from alerts.live.groups import char_group, plant_group
from alerts.live.log import last_event_id
from alerts.live.publisher import send_html

__all__ = ["char_group", "last_event_id", "plant_group", "send_html"]
