"""The violations page of a plant: /p/<plant>/violations/ — the live violations, filtered
(alerts.violation_filters), fifty to a page, newest first, with the median time to acknowledge of
the filtered set (alerts.violation_table); Supervisors and above acknowledge one or many with a
reason code (alerts.acknowledgment, as the API does). static/openspc/violations.js keeps the
rows live; the top bar's badge (alerts.templatetags.violations) counts what awaits
acknowledgment.

One URL serves the page or, for htmx (filters, pages, an acknowledgment), its `results`
partial; `rows/` serves the rows a live acknowledgment changed. Besides the filtered set, the
page reads the plant's nodes and characteristics once (the filters and the node paths).
"""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from alerts.acknowledgment import AcknowledgmentInvalid, acknowledge
from alerts.templatetags.violations import awaiting_count
from alerts.violation_filters import FilterForm, PlantNodes, filtered
from alerts.violation_table import PER_PAGE, page_of, rows, summary, with_everything
from openspc.api_params import MAX_ID
from plants.access import may, require
from plants.decorators import plant_view
from plants.roles import Action
from spc.models import Characteristic, ReasonCode, Violation

TEMPLATE = "alerts/violations.html"
MAX_ROWS_ASKED = 2 * PER_PAGE


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
    # after an acknowledgment the page may have shrunk: its last page, without a word
    problems = form.problems() + ([page_problem] if page_problem and not acked else [])
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
    found = list(with_everything(Violation.objects.filter(plant=plant, pk__in=ids))
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


def _id(value: str) -> int | None:
    value = value.strip()
    pk = int(value) if value.isdigit() and len(value) < 20 else 0
    return pk if 0 < pk <= MAX_ID else None


def _ids(values) -> tuple[list[int], list[str]]:
    """Violation ids from the form: (the good ones, the values that are no id)."""
    good = [pk for pk in map(_id, values) if pk is not None]
    bad = [value[:20] for value in values if _id(value) is None]
    return list(dict.fromkeys(good)), bad


def _checked(plant, post) -> tuple[list[Violation], int | None, str, list[str]]:
    """What the acknowledgment form asks for — (violations, reason code id, comment) — and what
    is wrong with it; the violations are the plant's only, so another plant's id is an error."""
    ids, bad = _ids(post.getlist("ids"))
    reason, comment = _id(post.get("reason_code", "")), post.get("comment", "").strip()
    found = list(Violation.objects.filter(plant=plant, pk__in=ids)) if ids else []
    missing = sorted(set(ids) - {v.pk for v in found})
    errors = [
        *([f"These are no violation ids: {', '.join(bad)}."] if bad else []),
        *(["Select the violations to acknowledge."] if not ids and not bad else []),
        *([f"No violation {', '.join(map(str, missing))} at {plant.name}."] if missing else []),
        *(["Choose the reason for the out-of-control event."] if reason is None else []),
        *(["Keep the comment under 2,000 characters."] if len(comment) > 2000 else []),
    ]
    return found, reason, comment, errors


@require_POST
@plant_view(Action.VIEW)
def acknowledge_selected(request, plant):
    """Acknowledge the selected violations with a reason code and a comment: all or none.
    Answers the results of the page's filters (the URL's query) with what was done or, with
    the form as posted, why nothing was."""
    require(request.user, plant.pk, Action.EDIT)
    found, reason, comment, errors = _checked(plant, request.POST)
    if not errors:
        try:
            done = acknowledge(found, request.user, reason, comment)
        except AcknowledgmentInvalid as exc:
            errors = [m for field in exc.errors.values() for m in field]
    if errors:
        return _form_again(request, plant, errors)
    message = f"Acknowledged {len(done)} violation{'s' if len(done) != 1 else ''}."
    if not request.htmx:
        messages.success(request, message)
        return redirect(f"{reverse('violations', args=[plant.code])}?{request.GET.urlencode()}")
    return render(request, f"{TEMPLATE}#results",
                  _context(request, plant, request.GET, {"message": message}))


def _form_again(request, plant, errors) -> HttpResponse:
    """The results with the form as it was posted and what was wrong (status 200: htmx swaps)."""
    ids, _ = _ids(request.POST.getlist("ids"))
    acked = {"errors": [*errors, "Nothing was acknowledged."], "ids": set(ids),
             "reason": request.POST.get("reason_code", ""), "comment": request.POST.get("comment", "")}
    template = f"{TEMPLATE}#results" if request.htmx else TEMPLATE
    return render(request, template, _context(request, plant, request.GET, acked))
