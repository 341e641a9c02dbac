"""The filters of the violations page, read from its URL: node (and below), characteristic, rule,
severity, state and days, and the page. A filter that does not hold is left out, with a message;
the hierarchy they need is read once (PlantNodes)."""

from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django import forms
from django.utils import timezone

from openspc.api_params import MAX_ID
from plants.models import Node
from spc.engine.rules import RULE_DESCRIPTIONS
from spc.models import Violation
from spc.rule_settings import Severity

NBSP = "\u00a0"
STATES = [("all", "All"), ("open", "Open"), ("acknowledged", "Acknowledged")]


class FilterForm(forms.Form):
    """The filters of the URL. Each one that does not hold is left out, with its message."""

    node = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, error_messages={
        "invalid_choice": "There is no such node in this plant."})
    characteristic = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None,
        error_messages={"invalid_choice": "There is no such characteristic in this plant."})
    rule = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None,
        choices=[("", "All rules"), *((r, f"Rule {r} — {d}") for r, d in RULE_DESCRIPTIONS.items())],
        error_messages={"invalid_choice": "Rules are numbered 1 to 8."})
    severity = forms.ChoiceField(
        required=False, choices=[("", "All severities"), *Severity.choices],
        error_messages={"invalid_choice": "Severity is Critical, Warning or Info."})
    state = forms.ChoiceField(required=False, choices=STATES, error_messages={
        "invalid_choice": "State is open, acknowledged or all."})
    start = forms.DateField(required=False, label="From", error_messages={
        "invalid": "Dates look like 2026-12-01."})
    end = forms.DateField(required=False, label="To", error_messages={
        "invalid": "Dates look like 2026-12-01."})
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID, error_messages={
        "invalid": "Pages are numbered from 1.", "min_value": "Pages are numbered from 1.",
        "max_value": "There is no such page."})

    def __init__(self, data, nodes: "PlantNodes", characteristics: list[dict]):
        # `from` and `to` in the URL, like the chart page and the API
        data = {("start" if k == "from" else "end" if k == "to" else k): v
                for k, v in data.items()}
        super().__init__(data, auto_id="filter-%s")
        self.fields["node"].choices = [("", "All nodes"), *nodes.choices()]
        self.fields["characteristic"].choices = [
            ("", "All characteristics"),
            *((c["pk"], f"{c['name']} — {nodes.path(c['node_id'])}") for c in characteristics)]

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The end date is before the start date.")
            data.pop("end", None)
        return data

    def problems(self) -> list[str]:
        return [f"{self.fields[name].label or name.capitalize()}: {' '.join(errors)} "
                "This filter was left out." for name, errors in self.errors.items()]

    def value(self, name):
        return self.cleaned_data.get(name) if self.is_bound and hasattr(self, "cleaned_data") \
            else None

    def query(self, **changes) -> str:
        """The valid filters as a query string (with `changes`), for links and live re-reads."""
        names = {"start": "from", "end": "to"}
        pairs = {names.get(k, k): v for k, v in self.cleaned_data.items()
                 if v not in (None, "") and k != "page"}
        pairs.update({k: v for k, v in changes.items() if v is not None})
        state = pairs.get("state")
        if state == "all":
            pairs.pop("state")
        return urlencode({k: v.isoformat() if hasattr(v, "isoformat") else v
                          for k, v in pairs.items()})


class PlantNodes:
    """The plant's hierarchy read once: each node's path and subtree."""

    def __init__(self, plant):
        rows = list(Node.objects.filter(plant=plant).order_by("name")
                    .values_list("pk", "parent_id", "name"))
        self.parent = {pk: parent for pk, parent, _ in rows}
        self.name = {pk: name for pk, _, name in rows}
        self.children: dict[int | None, list[int]] = {}
        for pk, parent, _ in rows:
            self.children.setdefault(parent, []).append(pk)
        self._paths: dict[int, str] = {}

    def path(self, pk: int) -> str:
        if pk not in self._paths:
            chain, at = [], pk
            while at is not None and at in self.name and len(chain) < 32:
                chain.append(self.name[at])
                at = self.parent[at]
            self._paths[pk] = " › ".join(reversed(chain))
        return self._paths[pk]

    def subtree(self, pk: int) -> list[int]:
        out, todo = [], [pk]
        while todo:
            at = todo.pop()
            out.append(at)
            todo.extend(self.children.get(at, ()))
        return out

    def choices(self) -> list[tuple[int, str]]:
        out = []

        def walk(parent, depth):
            for pk in self.children.get(parent, ()):
                out.append((pk, f"{NBSP * 3 * depth}{self.name[pk]}"))
                walk(pk, depth + 1)

        walk(None, 0)
        return out


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def filtered(plant, form: FilterForm, nodes: PlantNodes):
    """The plant's live violations that the valid filters keep (unordered)."""
    qs = Violation.objects.filter(plant=plant, superseded_at__isnull=True)
    v = form.value
    if v("node") is not None:
        qs = qs.filter(characteristic__node_id__in=nodes.subtree(v("node")))
    if v("characteristic") is not None:
        qs = qs.filter(characteristic_id=v("characteristic"))
    if v("rule") is not None:
        qs = qs.filter(rule=v("rule"))
    if v("severity"):
        qs = qs.filter(severity=v("severity"))
    if v("state") == "open":
        qs = qs.filter(acknowledged_at__isnull=True)
    elif v("state") == "acknowledged":
        qs = qs.filter(acknowledged_at__isnull=False)
    if v("start"):
        qs = qs.filter(sample__timestamp__gte=_day_start(v("start")))
    if v("end"):
        qs = qs.filter(sample__timestamp__lt=_day_start(v("end") + timedelta(days=1)))
    return qs
