"""The violations page's template helpers and the top bar's badge of violations awaiting
acknowledgment (templates/base.html: one COUNT per page)."""

from django import template

from spc.engine.rules import RULE_DESCRIPTIONS
from spc.models import Violation

register = template.Library()


def awaiting_count(plant) -> int:
    """Live violations of the plant that require acknowledgment and have none yet."""
    return Violation.objects.filter(plant=plant, superseded_at__isnull=True,
                                    acknowledged_at__isnull=True, requires_ack=True).count()


@register.inclusion_tag("alerts/badge.html", takes_context=True)
def violations_badge(context, plant):
    user = getattr(context.get("request"), "user", None)
    if plant is None or user is None or not user.is_authenticated:
        return {"plant": None}
    return {"plant": plant, "count": awaiting_count(plant)}


@register.filter
def span(delta) -> str:
    """A duration as people say it: "40 s", "12 min", "3 h 05 min", "2 d 4 h" ("—" for none)."""
    if delta is None:
        return "—"
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


@register.filter
def rule_text(rule) -> str:
    """What the rule looks for, in words: "9 points in a row on the same side of the center line"."""
    return RULE_DESCRIPTIONS.get(rule, "")
