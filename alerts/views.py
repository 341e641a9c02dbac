"""The violations page of a plant: /p/<plant>/violations/ — the live violations, filtered (node
and below, characteristic, rule, severity, state, days), fifty to a page, newest first, with the
median time to acknowledge of the filtered set; Supervisors and above acknowledge one or many
with a reason code (alerts.acknowledgment, as the API does). static/openspc/violations.js keeps
the rows live; the top bar's badge (alerts.templatetags.violations_badge) counts what awaits
acknowledgment.

The page reads a bounded number of queries whatever the number of violations: the plant's nodes
and characteristics (for the filters and the node paths), one aggregate, one ordered read for
the median, the page's rows with everything they show, and — only for moving-range rows — one
query for the previous means their values need.
"""

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.db.models import Count, DurationField, ExpressionWrapper, F, OuterRef, Q, Subquery
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from alerts.acknowledgment import AcknowledgmentInvalid, acknowledge
from alerts.templatetags.violations import awaiting_count
from openspc.api_params import MAX_ID
from plants.access import may, require
from plants.decorators import plant_view
from plants.models import Node
from plants.roles import Action
from spc import explain
from spc.engine.rules import RULE_DESCRIPTIONS
from spc.fitting import PRIMARY, SECONDARY
from spc.models import Characteristic, ChartType, ReasonCode, Sample, Violation
from spc.rule_settings import Severity

TEMPLATE = "alerts/violations.html"
PER_PAGE = 50
NBSP = "\u00a0"
MAX_ROWS_ASKED = 2 * PER_PAGE
STATES = [("all", "All"), ("open", "Open"), ("acknowledged", "Acknowledged")]
_LABELS = {"xbar": "X̄", "i": "X", "p": "p", "np": "np", "c": "c", "u": "u", "ewma": "EWMA",
           "cusum": "CUSUM", "r": "R", "s": "S", "mr": "MR"}


# --- filters --------------------------------------------------------------------------------


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


# --- what the page shows ----------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    total: int
    open: int
    awaiting: int
    acknowledged: int
    median: timedelta | None


def _time_to_ack():
    return ExpressionWrapper(F("acknowledged_at") - F("created_at"), output_field=DurationField())


def median_time_to_ack(qs, acknowledged: int) -> timedelta | None:
    """The median of acknowledged_at − created_at over the acknowledged violations of `qs`
    (`acknowledged` of them): the middle one or two, read in order by the database."""
    if not acknowledged:
        return None
    lo, hi = (acknowledged - 1) // 2, acknowledged // 2
    middle = list(qs.filter(acknowledged_at__isnull=False).annotate(tta=_time_to_ack())
                  .order_by("tta", "pk").values_list("tta", flat=True)[lo:hi + 1])
    return middle[0] + (middle[-1] - middle[0]) / 2


def summary(qs) -> Summary:
    counts = qs.aggregate(
        total=Count("pk"), open=Count("pk", filter=Q(acknowledged_at__isnull=True)),
        awaiting=Count("pk", filter=Q(acknowledged_at__isnull=True, requires_ack=True)))
    acknowledged = counts["total"] - counts["open"]
    return Summary(counts["total"], counts["open"], counts["awaiting"], acknowledged,
                   median_time_to_ack(qs, acknowledged))


@dataclass(frozen=True)
class Row:
    """One violation as the table shows it."""

    violation: Violation
    path: str
    statistic: str  # "X̄", "R", "MR", …
    value: str
    time_to_ack: timedelta | None

    @property
    def open(self) -> bool:
        return self.violation.acknowledged_at is None

    @property
    def awaiting(self) -> bool:
        return self.open and self.violation.requires_ack


def _statistic(ch, chart) -> str:
    kind = SECONDARY.get(ch.chart_type) if chart == Violation.Chart.SECONDARY \
        else PRIMARY.get(ch.chart_type)
    return kind or ""


def _plotted(v: Violation, previous_mean: float | None) -> str:
    """The value the chart plots at the violation's point, as the characteristic shows it."""
    ch, s, kind = v.characteristic, v.sample, _statistic(v.characteristic, v.chart)
    n = explain.number
    if kind == "cusum":
        return f"C⁺ {n(ch, s.cusum_upper, kind)} · C⁻ {n(ch, s.cusum_lower, kind)}"
    if kind == "ewma":
        return n(ch, s.ewma, kind)
    if kind in ("p", "u"):
        return n(ch, s.count / s.n if s.count is not None and s.n else None, kind)
    if kind in ("np", "c"):
        return n(ch, None if s.count is None else float(s.count), kind)
    if kind == "r":
        return n(ch, s.range, kind)
    if kind == "s":
        return n(ch, s.sd, kind)
    if kind == "mr":
        both = s.mean is not None and previous_mean is not None
        return n(ch, abs(s.mean - previous_mean) if both else None, kind)
    return n(ch, s.mean, kind)


def _previous_means(violations: list[Violation]) -> dict[int, float | None]:
    """For the samples of moving-range violations: the mean of the kept sample before each (a
    moving range is judged within its stage, so the one before is in the same stage). One
    query, none without such rows."""
    ids = {v.sample_id for v in violations if v.chart == Violation.Chart.SECONDARY
           and v.characteristic.chart_type == ChartType.IMR}
    if not ids:
        return {}
    before = (Sample.objects.filter(characteristic=OuterRef("characteristic"), excluded=False)
              .filter(Q(timestamp__lt=OuterRef("timestamp"))
                      | Q(timestamp=OuterRef("timestamp"), pk__lt=OuterRef("pk")))
              .order_by("-timestamp", "-pk").values("mean")[:1])
    return dict(Sample.objects.filter(pk__in=ids).annotate(previous=Subquery(before))
                .values_list("pk", "previous"))


def rows(violations: list[Violation], nodes: PlantNodes) -> list[Row]:
    previous = _previous_means(violations)
    out = []
    for v in violations:
        tta = v.acknowledged_at - v.created_at if v.acknowledged_at else None
        out.append(Row(v, nodes.path(v.characteristic.node_id),
                       _LABELS.get(_statistic(v.characteristic, v.chart), ""),
                       _plotted(v, previous.get(v.sample_id)), tta))
    return out


def _with_everything(qs):
    return qs.select_related("characteristic", "sample", "acknowledged_by", "reason_code")


@dataclass(frozen=True)
class Page:
    number: int
    count: int  # pages
    rows: list[Row]
    first: int  # 1-based position of the first row in the filtered set

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.count else None


def page_of(qs, total: int, asked: int | None, nodes: PlantNodes) -> tuple[Page, str]:
    """The asked page (newest first, ties by id: a stable order), or the last one with a
    message when it is past the end."""
    count = max(1, math.ceil(total / PER_PAGE))
    number, problem = asked or 1, ""
    if number > count:
        problem = f"There is no page {number}: showing page {count}, the last."
        number = count
    start = (number - 1) * PER_PAGE
    found = list(_with_everything(qs).order_by("-sample__timestamp", "-pk")
                 [start:start + PER_PAGE])
    return Page(number, count, rows(found, nodes), start + 1), problem


# --- pages --------------------------------------------------------------------------------


def _characteristics(plant) -> list[dict]:
    return list(Characteristic.objects.filter(plant=plant).order_by("name", "pk")
                .values("pk", "name", "node_id"))


def _reason_codes(plant):
    return list(ReasonCode.objects.filter(plant=plant, active=True).order_by("name"))


def _context(request, plant, params, acked=None) -> dict:
    """Everything the page (or its results partial) shows for the filters in `params`;
    `acked`: the state of the acknowledgment form just posted ({message, error, ids, …})."""
    nodes = PlantNodes(plant)
    characteristics = _characteristics(plant)
    form = FilterForm(params, nodes, characteristics)
    form.is_valid()
    qs = filtered(plant, form, nodes)
    totals = summary(qs)
    page, page_problem = page_of(qs, totals.total, form.value("page"), nodes)
    may_ack = may(request.user, plant.pk, Action.EDIT)
    problems = form.problems() + ([page_problem] if page_problem else [])
    return {
        "plant": plant, "form": form, "summary": totals, "page": page, "problems": problems,
        "query": form.query(), "may_ack": may_ack,
        "reason_codes": _reason_codes(plant) if may_ack else [],
        "acked": acked or {}, "follows_new": _follows_new(form),
        "watched": _watched(form, nodes, characteristics),
    }


def _follows_new(form: FilterForm) -> bool:
    """Whether a violation raised now could belong to the filtered set."""
    end = form.value("end")
    return form.value("state") != "acknowledged" and (end is None or end >= timezone.localdate())


def _watched(form: FilterForm, nodes: PlantNodes, characteristics: list[dict]) -> str:
    """The characteristic ids a new violation must be of to count as new here ("": any)."""
    ids = {c["pk"] for c in characteristics}
    if form.value("node") is not None:
        under = set(nodes.subtree(form.value("node")))
        ids = {c["pk"] for c in characteristics if c["node_id"] in under}
    if form.value("characteristic") is not None:
        ids &= {form.value("characteristic")}
    if form.value("node") is None and form.value("characteristic") is None:
        return ""
    return ",".join(str(i) for i in sorted(ids)) or "none"


def _results_wanted(request) -> bool:
    return bool(request.htmx) and request.htmx.target == "violations-results"


@require_GET
@plant_view(Action.VIEW)
def violations_page(request, plant):
    context = _context(request, plant, request.GET)
    return render(request, f"{TEMPLATE}#results" if _results_wanted(request) else TEMPLATE,
                  context)


@require_GET
@plant_view(Action.VIEW)
def violation_rows(request, plant):
    """The rows of the violations `id` (at most a page's worth; others' ids are not found),
    each with the id of its row, for the page to put in place live — and the summary of the
    filters it shows."""
    ids = _ids(request.GET.getlist("id"))[0][:MAX_ROWS_ASKED]
    nodes = PlantNodes(plant)
    found = list(_with_everything(Violation.objects.filter(plant=plant, pk__in=ids))
                 .order_by("-sample__timestamp", "-pk"))
    form = FilterForm(request.GET, nodes, _characteristics(plant))
    form.is_valid()
    may_ack = may(request.user, plant.pk, Action.EDIT)
    return render(request, f"{TEMPLATE}#live-rows", {
        "plant": plant, "rows": rows(found, nodes), "may_ack": may_ack,
        "summary": summary(filtered(plant, form, nodes))})


@require_GET
@plant_view(Action.VIEW)
def badge(request, plant):
    return render(request, "alerts/badge.html", {"plant": plant, "count": awaiting_count(plant)})


def _ids(values) -> tuple[list[int], list[str]]:
    """Violation ids from the form: (the good ones, the values that are no id)."""
    good, bad = [], []
    for value in values:
        pk = int(value) if value.strip().isdigit() and len(value) < 20 else 0
        if 0 < pk <= MAX_ID:
            good.append(pk)
        else:
            bad.append(value[:20])
    return list(dict.fromkeys(good)), bad


def _ack_errors(plant, ids, bad, reason, comment) -> tuple[list[Violation], list[str]]:
    """The violations to acknowledge, or what is wrong with the request (nothing is written)."""
    errors = []
    if bad:
        errors.append(f"These are no violation ids: {', '.join(map(str, bad))}.")
    if not ids and not bad:
        errors.append("Select the violations to acknowledge.")
    found = list(Violation.objects.filter(plant=plant, pk__in=ids)) if ids else []
    missing = sorted(set(ids) - {v.pk for v in found})
    if missing:
        errors.append(f"No violation {', '.join(map(str, missing))} at {plant.name}.")
    if not reason.isdigit():
        errors.append("Choose the reason for the out-of-control event.")
    if len(comment) > 2000:
        errors.append("Keep the comment under 2,000 characters.")
    return found, errors


@require_POST
@plant_view(Action.VIEW)
def acknowledge_selected(request, plant):
    """Acknowledge the selected violations with a reason code and a comment: all or none."""
    require(request.user, plant.pk, Action.EDIT)
    ids, bad = _ids(request.POST.getlist("ids"))
    reason, comment = request.POST.get("reason_code", "").strip(), request.POST.get("comment", "")
    found, errors = _ack_errors(plant, ids, bad, reason, comment.strip())
    done = []
    if not errors:
        try:
            done = acknowledge(found, request.user, int(reason), comment.strip())
        except AcknowledgmentInvalid as exc:
            errors = [m for messages_ in exc.errors.values() for m in messages_]
    if errors:
        errors.append("Nothing was acknowledged.")
    message = f"Acknowledged {len(done)} violation{'s' if len(done) != 1 else ''}." if done else ""
    if not request.htmx:
        if not errors:
            messages.success(request, message)
            return redirect(f"{reverse('violations', args=[plant.code])}?{request.GET.urlencode()}")
        return _form_again(request, plant, ids, reason, comment, errors, TEMPLATE)
    if errors:
        return _form_again(request, plant, ids, reason, comment, errors, f"{TEMPLATE}#results")
    return render(request, f"{TEMPLATE}#results",
                  _context(request, plant, request.GET, {"message": message}))


def _form_again(request, plant, ids, reason, comment, errors, template) -> HttpResponse:
    """The results with the form as it was posted and what was wrong (status 200: htmx swaps)."""
    acked = {"errors": errors, "ids": set(ids), "reason": reason, "comment": comment}
    return render(request, template, _context(request, plant, request.GET, acked))
