"""The messages of the live channel, each built once from one event (see alerts.live)."""

import orjson
from django.urls import reverse

from alerts.events import ViolationsAcknowledged
from spc import charts, events
from spc.api.renderers import dumps
from spc.chart_data import chart_data
from spc.models import Characteristic, Violation

# More new points than this in one event (an import, a back-dated batch that interleaves with
# the history) are not pushed point by point: the pages re-read their range instead.
MAX_POINTS = 200

RULE_PATTERNS = {
    1: "a point beyond the control limits",
    2: "nine points in a row on one side of the center line",
    3: "six points in a row steadily increasing or decreasing",
    4: "fourteen points in a row alternating up and down",
    5: "two of three points beyond 2σ on one side",
    6: "four of five points beyond 1σ on one side",
    7: "fifteen points in a row within 1σ",
    8: "eight points in a row beyond 1σ on either side",
}
_SEVERITY_RANK = {"CRITICAL": 0, "WARNING": 1, "INFO": 2}
_VIOLATION_FIELDS = ("id", "rule", "chart", "sample_id", "severity", "requires_ack")

REFRESH_REASONS = {
    events.SamplesRejudged: "rejudged",
    events.SampleEdited: "edited",
    events.LimitsChanged: "limits",
    events.CharacteristicChanged: "configuration",
}


def plain_chart_data(ch: Characteristic, **selection) -> dict:
    """chart_data as the chart-data endpoint writes it (NaN → null, times as ISO 8601 "Z")."""
    return orjson.loads(dumps(chart_data(ch, **selection)))


def recorded(event: events.SamplesRecorded, draw: bool = True) -> list[tuple[str, dict]]:
    """For new samples: `points` for the characteristic's pages (`refresh` when there are too
    many, or when `draw` is false: no page watches them), and `violation` for the plant's pages
    when any were raised. [(kind, message)]"""
    raised = list(Violation.objects.filter(pk__in=event.violation_ids).order_by("id")
                  .values(*_VIOLATION_FIELDS)) if event.violation_ids else []
    ch = Characteristic.objects.select_related("plant").get(pk=event.characteristic_id) \
        if draw or raised else None
    first = _points(ch, event, raised) if draw \
        else refresh(event.plant_id, event.characteristic_id, "samples")
    out = [(first["kind"], first)]
    if raised:
        out.append(("violation", _violation(ch, raised)))
    return out


def _points(ch, event, raised) -> dict:
    """`data`: the chart data of the new points; `series`: what each trace of the chart
    (spc.charts) gains, so a page extends its traces with what the server would draw."""
    times = [p.timestamp for p in event.points]
    drawn = (chart_data(ch, start=min(times), end=max(times))
             if 0 < len(times) <= MAX_POINTS else None)
    if drawn is None or len(drawn["sample_id"]) > MAX_POINTS:
        return refresh(event.plant_id, event.characteristic_id, "samples")
    waiting = {v["sample_id"] for v in raised if v["requires_ack"]}
    return {"kind": "points", "plant": ch.plant_id, "characteristic": ch.pk,
            "data": orjson.loads(dumps(drawn)), "series": charts.series(drawn, waiting),
            "violations": raised}


def _violation(ch, raised) -> dict:
    worst = min(raised, key=lambda v: (_SEVERITY_RANK.get(v["severity"], 9), v["rule"]))
    where = ch.name if worst["chart"] == Violation.Chart.PRIMARY \
        else f"{ch.name} ({worst['chart']} chart)"
    text = f"Rule {worst['rule']} on {where} — {RULE_PATTERNS.get(worst['rule'], 'a pattern')}"
    if len(raised) > 1:
        text += f" (and {len(raised) - 1} more)"
    return {"kind": "violation", "plant": ch.plant_id, "characteristic": ch.pk,
            "characteristic_name": ch.name, "url": reverse("chart", args=[ch.plant.code, ch.pk]),
            "message": text, "violation_ids": [v["id"] for v in raised],
            "severity": worst["severity"], "sample_id": worst["sample_id"],
            "inspector_url": reverse("sample-inspector",
                                     args=[ch.plant.code, ch.pk, worst["sample_id"]])}


def refresh(plant_id: int, characteristic_id: int, reason: str) -> dict:
    return {"kind": "refresh", "plant": plant_id, "characteristic": characteristic_id,
            "reason": reason}


def acknowledged(event: ViolationsAcknowledged) -> dict:
    return {"kind": "acknowledged", "plant": event.plant_id,
            "characteristics": list(event.characteristic_ids),
            "sample_ids": list(event.sample_ids), "violation_ids": list(event.violation_ids)}


def html(plant_id: int, fragment: str) -> dict:
    return {"kind": "html", "plant": plant_id, "html": str(fragment)}
