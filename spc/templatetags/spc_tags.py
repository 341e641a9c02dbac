"""Template helpers of the spc pages: rule names, numbers as the characteristic shows them."""

from django import template

from spc.engine.rules import RULE_DESCRIPTIONS

register = template.Library()


@register.filter
def rule_name(rule) -> str:
    """'Rule 3 — six points in a row steadily increasing or decreasing'."""
    try:
        return f"Rule {int(rule)} — {RULE_DESCRIPTIONS[int(rule)]}"
    except (KeyError, TypeError, ValueError):
        return f"Rule {rule}"


@register.filter
def fixed(value, places=3) -> str:
    """A number with `places` decimals ("—" for none)."""
    if value is None or value != value:
        return "—"
    try:
        return f"{float(value):.{int(places)}f}"
    except (TypeError, ValueError):
        return str(value)


@register.simple_tag(takes_context=True)
def due_badge(context, plant):
    """The top bar's count of samples due or overdue at `plant` (one query)."""
    from django.template.loader import render_to_string

    from spc.due import attention_count

    counted = context.get("attention")  # the dashboard counted its cards already
    attention = counted if counted is not None and context.get("node") is None \
        else attention_count(plant)
    return render_to_string("spc/dashboard.html#due-badge",
                            {"plant": plant, "attention": attention},
                            request=context.get("request"))
