"""Data entry: /p/<plant>/c/<id>/enter/ — a subgroup typed by an operator, recorded through the
pipeline and judged at once.

One URL serves the whole page or, for htmx (the "Enter sample" dialog of the chart page and the
dashboard's cards), the `entry` partial of spc/templates/spc/entry.html. A post answers 200
with the `entry` partial again — every typed value kept, with the messages — or with the
`result` partial: in control, or the rules that fired with their sentences (spc.explain), an
"Acknowledge now" form for Supervisors and above, and "Enter next". A success also sends the
client event `sampleRecorded` ({"characteristic", "sample", "created", "in_control"}); the new
point reaches every open chart through the live channel by itself.

The form carries an idempotency key made when it was rendered: a double tap, or a retry after
a network error, records nothing new and answers the stored sample (the pipeline's `key`).
"""

from django.db.models import prefetch_related_objects
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from alerts.acknowledgment import AcknowledgmentInvalid, acknowledge
from plants.access import get_for_user, may, require
from plants.decorators import plant_view
from plants.roles import Action
from spc import explain
from spc.forms import InspectorAcknowledgeForm, add_errors
from spc.forms_entry import EntryForm
from spc.models import Characteristic, ChartType, Sample, Violation
from spc.pipeline import record_sample
from spc.sample_input import SampleInvalid

TEMPLATE = "spc/entry.html"


class EntryAcknowledgeForm(InspectorAcknowledgeForm):
    """The inspector's acknowledgment, with ids of its own (both may be on one page)."""

    id_prefix = "entry-ack"


def _characteristic(request, plant, pk) -> Characteristic:
    """The characteristic `pk` of `plant` with its node (one query); 404 outside the user's
    plants, 403 for a role that may not enter data."""
    qs = Characteristic.objects.filter(plant=plant).select_related("node")
    return get_for_user(qs, request.user, Action.ENTER_DATA, pk=pk)


def _limits(ch) -> tuple[float | None, float | None]:
    """(center, process σ) of the active limit version of a variable chart: what is
    implausible is judged against them. (None, None) for attribute charts and before any."""
    if ch.is_attribute:
        return None, None
    found = ch.limit_versions.filter(is_active=True).order_by().values_list("center", "sigma")
    return found[0] if found else (None, None)


def _form(request, ch, data=None, kept=None) -> EntryForm:
    center, sigma = _limits(ch)
    user = request.user
    return EntryForm(data, characteristic=ch, center=center, sigma=sigma, kept=kept,
                     operator=user.get_full_name() or user.get_username())


def _render(request, plant, ch, partial: str, context: dict):
    template = f"{TEMPLATE}#{partial}" if request.htmx else TEMPLATE
    return render(request, template, {"plant": plant, "ch": ch, "shown": partial,
                                      "in_dialog": bool(request.htmx), **context})


@require_http_methods(["GET", "POST"])
@plant_view(Action.ENTER_DATA)
def sample_entry(request, plant, pk):
    ch = _characteristic(request, plant, pk)
    if request.method == "GET":
        return _render(request, plant, ch, "entry", {"form": _form(request, ch)})
    form = _form(request, ch, request.POST)
    if form.is_valid():
        try:
            recorded = record_sample(ch, form.cleaned_data["request"], request.user)
        except SampleInvalid as exc:  # the characteristic changed under the form, say
            add_errors(form, exc.errors)
        else:
            return _recorded(request, plant, ch, recorded.sample, recorded.created)
    if form.stale:  # made again for what the characteristic takes now, the values kept
        message = form.non_field_errors()
        form = _form(request, ch, kept=form.kept_values())
        return _render(request, plant, ch, "entry", {"form": form, "reloaded": message})
    return _render(request, plant, ch, "entry", {"form": form})


def _recorded(request, plant, ch, sample, created: bool):
    context = _result(request, plant, ch, sample)
    context["created"] = created
    response = _render(request, plant, ch, "result", context)
    return trigger_client_event(response, "sampleRecorded", {
        "characteristic": ch.pk, "sample": sample.pk, "created": created,
        "in_control": not context["explanations"]})


# --- the result --------------------------------------------------------------------------


def _result(request, plant, ch, sample, ack_form=None, message="") -> dict:
    """What the result shows: the point, the rules it fired with their sentences, and the
    acknowledgment form when the user may acknowledge."""
    live = list(Violation.objects.filter(sample=sample, superseded_at__isnull=True)
                .select_related("acknowledged_by", "reason_code").order_by("chart", "rule"))
    prefetch_related_objects([sample], "measurements")
    span = explain.read_span_of(ch, sample, live)
    point = span.point(sample.pk)
    ordinal = span.ordinal(sample.pk)
    open_ids = [v.pk for v in live if v.acknowledged_at is None]
    can_ack = bool(open_ids) and may(request.user, plant.pk, Action.EDIT)
    if can_ack and ack_form is None:
        ack_form = EntryAcknowledgeForm(sample=sample, plant=plant,
                                        initial={"violations": open_ids})
    trial = point is None or point.limits_version is None
    return {
        "sample": sample, "ordinal": ordinal, "point": _point_text(ch, point),
        "shown_values": [explain.number(ch, m.value) for m in sample.measurements.all()],
        "explanations": explain.explain(ch, live, span), "open_ids": open_ids,
        "trial": trial,
        "judging_later": trial and (ordinal or 0) < ch.trial_min_subgroups,
        "ack_form": ack_form if can_ack else None, "message": message,
    }


def _point_text(ch, point) -> str:
    """The point as the chart draws it, in one line: "X̄ 74.012 · UCL 74.043 · CL 74.000 ·
    LCL 73.957"."""
    if point is None:
        return ""
    n = explain.number
    if ch.chart_type == ChartType.CUSUM:
        return (f"C⁺ {n(ch, point.upper, 'cusum')} · C⁻ {n(ch, point.lower, 'cusum')} · "
                f"H {n(ch, point.ucl, 'cusum')}")
    text = f"{point.label} {n(ch, point.value, point.statistic)}"
    if point.center is not None:
        text += (f" · UCL {n(ch, point.ucl, point.statistic)} · CL "
                 f"{n(ch, point.center, point.statistic)} · LCL {n(ch, point.lcl, point.statistic)}")
    return text


@require_POST
@plant_view(Action.ENTER_DATA)
def entry_acknowledge(request, plant, pk, sid):
    """Acknowledge the violations of the sample just recorded, from the result (Supervisor+):
    the result again, acknowledged, or with the form's messages."""
    qs = Sample.objects.select_related("characteristic__node").filter(
        characteristic_id=pk, characteristic__plant=plant)
    sample = get_for_user(qs, request.user, plant_field="characteristic__plant", pk=sid)
    require(request.user, plant.pk, Action.EDIT)
    ch = sample.characteristic
    form = EntryAcknowledgeForm(request.POST, sample=sample, plant=plant)
    if form.is_valid():
        try:
            done = acknowledge(list(form.cleaned_data["violations"]), request.user,
                               form.cleaned_data["reason_code"].pk, form.cleaned_data["comment"])
        except AcknowledgmentInvalid as exc:
            add_errors(form, exc.errors)
        else:
            message = f"Acknowledged {len(done)} violation{'s' if len(done) > 1 else ''}."
            response = _render(request, plant, ch, "result",
                               _result(request, plant, ch, sample, message=message))
            return trigger_client_event(response, "chartChanged", {"sample": sample.pk,
                                                                   "message": message})
    return _render(request, plant, ch, "result", _result(request, plant, ch, sample, form))


ENTRY = "p/<str:code>/c/<int:pk>/enter/"
urlpatterns = [
    path(ENTRY, sample_entry, name="sample-entry"),
    path(f"{ENTRY}<int:sid>/acknowledge/", entry_acknowledge, name="entry-acknowledge"),
]
