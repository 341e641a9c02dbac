"""The sample inspector: a sample's values, verdict and history, why it was flagged, and the
actions on it (acknowledge, exclude/restore, correct, annotate). Pages under
/p/<plant>/c/<id>/samples/<sid>/.

One URL serves the whole page or, for htmx (the chart page's dialog), the `inspector` partial.
Every action posts back and answers that partial at 200 — with the result, or with the form's
messages — and, when something changed, the client event `chartChanged`
({"sample": id, "message": …}) so the chart page refreshes its panels. The annotation views
serve the chart page too: there a success answers 204 with the same event.

Objects are resolved with the user's view rights first (another plant's ids: 404), then the
action's role is required (403): Supervisor+ to acknowledge, exclude, restore and correct;
Operator+ to annotate and to delete their own notes, Supervisor+ anyone's.
"""

import json
from dataclasses import dataclass

from django.db.models import Prefetch, prefetch_related_objects
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from alerts.acknowledgment import AcknowledgmentInvalid, acknowledge
from plants.access import get_for_user, may, require
from plants.decorators import plant_view
from plants.roles import Action
from spc import explain, sample_edits
from spc.annotations import (
    AnnotationInvalid,
    add_annotation,
    delete_annotation,
    edit_annotation,
)
from spc.forms import (
    AnnotationForm,
    InspectorAcknowledgeForm,
    InspectorCorrectForm,
    InspectorExcludeForm,
    InspectorRestoreForm,
    add_errors,
)
from spc.models import (
    Annotation,
    AnnotationEdit,
    Characteristic,
    ChartType,
    Sample,
    SampleEdit,
    Violation,
)
from spc.sample_input import SampleInvalid

TEMPLATE = "spc/inspector.html"


# --- reading ------------------------------------------------------------------------------


def _sample_for(request, plant, pk, sid) -> Sample:
    """The sample `sid` of characteristic `pk` at `plant`, with its characteristic (one query);
    404 unless the user may view it."""
    qs = Sample.objects.select_related("characteristic", "created_by").filter(
        characteristic_id=pk, characteristic__plant=plant)
    return get_for_user(qs, request.user, plant_field="characteristic__plant", pk=sid)


def _with_history(sample: Sample) -> Sample:
    """The sample's values, live violations, edits and notes, one query each."""
    live = (Violation.objects.filter(superseded_at__isnull=True)
            .select_related("acknowledged_by", "reason_code").order_by("chart", "rule"))
    prefetch_related_objects(
        [sample], "measurements",
        Prefetch("violations", queryset=live, to_attr="live_violations"),
        Prefetch("edits", queryset=SampleEdit.objects.select_related("edited_by")
                 .order_by("-edited_at", "-id"), to_attr="history"),
        Prefetch("annotations", queryset=Annotation.objects.select_related("created_by")
                 .prefetch_related(Prefetch("edits", queryset=AnnotationEdit.objects
                                            .select_related("edited_by")))
                 .order_by("created_at", "id"), to_attr="notes"))
    return sample


@dataclass(frozen=True)
class Change:
    """One entry of the edit history, as shown."""

    edit: SampleEdit
    before: str
    after: str


def _shown(ch, snapshot: dict) -> str:
    if ch.is_attribute:
        return f"{snapshot.get('count')} of {snapshot.get('n')}"
    return ", ".join(explain.number(ch, v) for v in snapshot.get("values") or [])


def _changes(ch, edits) -> list[Change]:
    return [Change(e, _shown(ch, e.before), _shown(ch, e.after)) if e.kind == SampleEdit.Kind.EDIT
            else Change(e, "", "") for e in edits]


def _chips(sample, point, violations, edits) -> list[tuple[str, str]]:
    """(text, kind) of the status chips; kind: ok, bad, warn, excluded, info."""
    chips = []
    if sample.excluded:
        chips.append(("Excluded", "excluded"))
    if violations:
        count = len(violations)
        chips.append((f"{count} violation{'s' if count > 1 else ''}", "bad"))
        waiting = sum(v.acknowledged_at is None and v.requires_ack for v in violations)
        if waiting:
            chips.append((f"{waiting} awaiting acknowledgment", "warn"))
    elif not sample.excluded:
        chips.append(("In control", "ok"))
    if any(e.kind == SampleEdit.Kind.EDIT for e in edits):
        chips.append(("Edited", "info"))
    if point is not None and point.limits_version is None:
        chips.append(("Trial limits", "warn"))
    return chips


_ZONES = {"C": "C (within 1σ)", "B": "B (1σ to 2σ)", "A": "A (2σ to 3σ)", "beyond": "beyond 3σ"}


def _limits_text(ch, point, center_name="CL") -> str:
    n = explain.number
    return (f"UCL {n(ch, point.ucl, point.statistic)} · {center_name} "
            f"{n(ch, point.center, point.statistic)} · LCL {n(ch, point.lcl, point.statistic)}")


def _where(point) -> str:
    """"B (1σ to 2σ), above · z = +1.52"."""
    if point.z is None:
        return "not judged"
    side = f", {point.side}" if point.side else ""
    return f"{_ZONES[point.zone]}{side} · z = {point.z:+.2f}"


def _plotted(ch, sample, point, secondary) -> list[tuple[str, str]]:
    """(term, text) rows: the point as the chart draws it, where it lies and the limits."""
    n = explain.number
    if point is None:
        return []
    if ch.chart_type == ChartType.CUSUM:
        rows = [("x̄", n(ch, sample.mean)), ("C⁺", n(ch, point.upper)),
                ("C⁻", n(ch, point.lower)), ("H", n(ch, point.ucl))]
        if point.z is not None:
            rows.append(("z", f"{point.z:+.2f} (x̄ from the target, in σ of x̄)"))
        return rows
    rows = [(point.label, n(ch, point.value, point.statistic))]
    if ch.chart_type == ChartType.EWMA:
        rows.append(("x", n(ch, sample.mean)))
        if point.z is not None:
            rows.append(("z", f"{point.z:+.2f}"))
    elif sample.excluded:
        rows.append(("Zone", "excluded: not judged"))
    else:
        rows.append(("Zone", _where(point)))
    if point.center is not None:
        rows.append(("Limits", _limits_text(ch, point, "target" if ch.chart_type ==
                                            ChartType.EWMA else "CL")))
    if secondary is not None and secondary.value is not None:
        text = n(ch, secondary.value, secondary.statistic)
        if secondary.center is not None:
            text += f" ({_limits_text(ch, secondary)})"
        rows.append((secondary.label, text))
    return rows


def _statistics(ch, sample) -> list[tuple[str, str]]:
    n = explain.number
    if ch.is_attribute:
        rows = [("Count", f"{sample.count} of {sample.n}")]
        if ch.chart_type in (ChartType.P, ChartType.U) and sample.n:
            name = "p" if ch.chart_type == ChartType.P else "u"
            rows.append((name, n(ch, sample.count / sample.n, name)))
        return rows
    rows = [("Mean", n(ch, sample.mean)), ("n", str(sample.n))]
    if sample.n > 1:
        rows[1:1] = [("Range", n(ch, sample.range)), ("s", n(ch, sample.sd))]
    return rows


def _version(span, point) -> dict | None:
    if point is None or point.limits_version is None:
        return None
    return next((v for v in span.data["versions"] if v["version"] == point.limits_version), None)


@dataclass(frozen=True)
class Why:
    """The sample's violations explained, the later patterns it belongs to, and the span of
    chart data both were read from."""

    span: explain.Span
    own: list[explain.Explanation]
    part_of: list[tuple[explain.Explanation, int | None]]  # (explanation, its sample's ordinal)

    @property
    def highlight(self) -> list[int]:
        """The sample ids of every pattern, in time order."""
        ids = {p for e in [*self.own, *(e for e, _ in self.part_of)] for p in e.sample_ids}
        return sorted(ids, key=lambda p: (self.span.ordinal(p) or 0, p))


def _why(ch, sample) -> Why:
    later = explain.later_patterns(ch, sample)
    span = explain.read_span_of(ch, sample, [*sample.live_violations, *later])
    part_of = [(e, span.ordinal(e.violation.sample_id)) for e in explain.explain(ch, later, span)]
    return Why(span, explain.explain(ch, sample.live_violations, span), part_of)


def _forms(plant, sample, values, can_edit, can_annotate, given=None) -> dict:
    """The forms the user may use, unbound except the one just posted (`given`)."""
    ch, forms = sample.characteristic, dict(given or {})
    if can_edit:
        open_ids = [v.pk for v in sample.live_violations if v.acknowledged_at is None]
        if open_ids:
            forms.setdefault("acknowledge", InspectorAcknowledgeForm(
                sample=sample, plant=plant, initial={"violations": open_ids}))
        exclusion = InspectorRestoreForm if sample.excluded else InspectorExcludeForm
        forms.setdefault("exclusion", exclusion())
        forms.setdefault("correct", InspectorCorrectForm(characteristic=ch, sample=sample,
                                                         values=values))
    if can_annotate:
        forms.setdefault("annotate", AnnotationForm(initial={"sample": sample.pk}))
    return forms


def _context(request, plant, sample, forms=None, message="") -> dict:
    ch, user = sample.characteristic, request.user
    _with_history(sample)
    why = _why(ch, sample)
    point = why.span.point(sample.pk)
    can_edit = may(user, plant.pk, Action.EDIT)
    can_annotate = may(user, plant.pk, Action.ENTER_DATA)
    values = [m.value for m in sample.measurements.all()]
    return {
        "plant": plant, "ch": ch, "sample": sample, "message": message,
        "shown_values": [explain.number(ch, v) for v in values],
        "ordinal": why.span.ordinal(sample.pk),
        "plotted": _plotted(ch, sample, point, why.span.point(sample.pk, "secondary")),
        "statistics": _statistics(ch, sample), "version": _version(why.span, point),
        "explanations": why.own, "part_of": why.part_of, "highlight": json.dumps(why.highlight),
        "open_ids": [v.pk for v in sample.live_violations if v.acknowledged_at is None],
        "chips": _chips(sample, point, sample.live_violations, sample.history),
        "changes": _changes(ch, sample.history),
        "notes": [(n, can_edit or (can_annotate and n.created_by_id == user.pk))
                  for n in sample.notes],
        "can_edit": can_edit, "can_annotate": can_annotate,
        "forms": _forms(plant, sample, values, can_edit, can_annotate, forms),
    }


def _render(request, plant, sample, forms=None, message=""):
    template = f"{TEMPLATE}#inspector" if request.htmx else TEMPLATE
    return render(request, template, _context(request, plant, sample, forms, message))


def _done(request, plant, sample, message: str):
    """After a change: the fresh inspector (htmx) and `chartChanged`; without htmx, back to
    the page (so a reload posts nothing again)."""
    if not request.htmx:
        return redirect("sample-inspector", plant.code, sample.characteristic_id, sample.pk)
    fresh = _sample_for(request, plant, sample.characteristic_id, sample.pk)
    response = _render(request, plant, fresh, message=message)
    return trigger_client_event(response, "chartChanged", {"sample": sample.pk,
                                                           "message": message})


@require_GET
@plant_view()
def inspector(request, plant, pk, sid):
    return _render(request, plant, _sample_for(request, plant, pk, sid))


# --- acting on the sample -------------------------------------------------------------------


def _for_editing(request, plant, pk, sid) -> Sample:
    sample = _sample_for(request, plant, pk, sid)
    require(request.user, plant.pk, Action.EDIT)
    return sample


@require_POST
@plant_view()
def acknowledge_violations(request, plant, pk, sid):
    sample = _for_editing(request, plant, pk, sid)
    form = InspectorAcknowledgeForm(request.POST, sample=sample, plant=plant)
    if form.is_valid():
        try:
            done = acknowledge(list(form.cleaned_data["violations"]), request.user,
                               form.cleaned_data["reason_code"].pk, form.cleaned_data["comment"])
        except AcknowledgmentInvalid as exc:
            add_errors(form, exc.errors)
        else:
            count = len(done)
            return _done(request, plant, sample,
                         f"Acknowledged {count} violation{'s' if count > 1 else ''}.")
    return _render(request, plant, sample, {"acknowledge": form})


def _exclusion(request, plant, pk, sid, excluded: bool):
    sample = _for_editing(request, plant, pk, sid)
    form = (InspectorExcludeForm if excluded else InspectorRestoreForm)(request.POST)
    if form.is_valid():
        try:
            sample_edits.set_excluded(sample, excluded, form.cleaned_data["reason"], request.user)
        except SampleInvalid as exc:
            add_errors(form, exc.errors)
        else:
            message = ("Excluded from limits and rules." if excluded else "Restored.")
            return _done(request, plant, sample, f"{message} Later points were judged again.")
    fresh = _sample_for(request, plant, pk, sid)  # the form shown follows the stored state
    return _render(request, plant, fresh, {"exclusion": form})


@require_POST
@plant_view()
def exclude_sample(request, plant, pk, sid):
    return _exclusion(request, plant, pk, sid, True)


@require_POST
@plant_view()
def restore_sample(request, plant, pk, sid):
    return _exclusion(request, plant, pk, sid, False)


@require_POST
@plant_view()
def correct_sample(request, plant, pk, sid):
    sample = _for_editing(request, plant, pk, sid)
    form = InspectorCorrectForm(request.POST, characteristic=sample.characteristic, sample=sample)
    if form.is_valid():
        try:
            sample_edits.correct(sample, form.cleaned_data["request"], form.cleaned_data["reason"],
                                 request.user)
        except SampleInvalid as exc:
            add_errors(form, exc.errors)
        else:
            return _done(request, plant, sample, "Values corrected. Later points were judged again.")
    return _render(request, plant, sample, {"correct": form})


# --- annotations (the inspector's and the chart page's) -------------------------------------


def _changed(message: str) -> HttpResponse:
    return trigger_client_event(HttpResponse(status=204), "chartChanged", {"message": message})


def _from_inspector(request) -> bool:
    return request.POST.get("inspector") == "1"


@require_http_methods(["GET", "POST"])
@plant_view()
def annotation_add(request, plant, pk):
    """GET: the period form (for a dialog of the chart page). POST `text` with `sample`, or with
    `start` and `end`: 204 + chartChanged, or the inspector when posted from it (`inspector=1`)."""
    ch = get_for_user(Characteristic.objects.filter(plant=plant), request.user, pk=pk)
    require(request.user, plant.pk, Action.ENTER_DATA)
    form = AnnotationForm(request.POST or None, initial={
        "start": request.GET.get("start"), "end": request.GET.get("end")})
    valid = request.method == "POST" and form.is_valid()
    sid = form.cleaned_data.get("sample") if form.is_bound else None
    # another characteristic's or plant's sample: 404, whatever else is wrong with the note
    sample = _sample_for(request, plant, ch.pk, sid) if sid is not None else None
    if valid:
        try:
            add_annotation(ch, form.cleaned_data["text"], request.user, sample=sample,
                           start=None if sample else form.cleaned_data["start"],
                           end=None if sample else form.cleaned_data["end"])
        except AnnotationInvalid as exc:
            add_errors(form, exc.errors)
        else:
            if sample is not None and _from_inspector(request):
                return _done(request, plant, sample, "Note added.")
            return _changed("Note added.")
    if sample is not None and _from_inspector(request):
        return _render(request, plant, sample, {"annotate": form})
    return render(request, f"{TEMPLATE}#period-form", {"plant": plant, "ch": ch, "form": form})


@require_POST
@plant_view()
def annotation_delete(request, plant, pk, aid):
    qs = Annotation.objects.select_related("characteristic").filter(
        characteristic_id=pk, characteristic__plant=plant)
    note = get_for_user(qs, request.user, plant_field="characteristic__plant", pk=aid)
    own = note.created_by_id is not None and note.created_by_id == request.user.pk
    require(request.user, plant.pk, Action.ENTER_DATA if own else Action.EDIT)
    delete_annotation(note, request.user)
    if note.sample_id is not None and _from_inspector(request):
        sample = _sample_for(request, plant, pk, note.sample_id)
        return _done(request, plant, sample, "Note deleted.")
    return _changed("Note deleted.")


@require_http_methods(["GET", "POST"])
@plant_view()
def annotation_edit(request, plant, pk, aid):
    """GET: the note's edit form (a period's, for the chart page's drawer). POST `text` (and a
    period's `start`/`end`): the inspector again when posted from it, else 204 + chartChanged.
    Authors edit their own notes, Supervisor+ anyone's; every edit is kept with before/after."""
    qs = Annotation.objects.select_related("characteristic", "sample").filter(
        characteristic_id=pk, characteristic__plant=plant)
    note = get_for_user(qs, request.user, plant_field="characteristic__plant", pk=aid)
    own = note.created_by_id is not None and note.created_by_id == request.user.pk
    require(request.user, plant.pk, Action.ENTER_DATA if own else Action.EDIT)
    initial = {"text": note.text, "start": note.start and timezone.localtime(note.start),
               "end": note.end and timezone.localtime(note.end), "sample": note.sample_id}
    data = request.POST.copy() if request.method == "POST" else None
    if data is not None and note.sample_id is not None:
        data["sample"] = str(note.sample_id)
    form = AnnotationForm(data, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            edit_annotation(note, form.cleaned_data["text"], request.user,
                            start=form.cleaned_data.get("start"), end=form.cleaned_data.get("end"))
        except AnnotationInvalid as exc:
            add_errors(form, exc.errors)
        else:
            if note.sample_id is not None and _from_inspector(request):
                sample = _sample_for(request, plant, pk, note.sample_id)
                return _done(request, plant, sample, "Note changed.")
            return _changed("Note changed.")
    if note.sample_id is not None and _from_inspector(request):
        sample = _sample_for(request, plant, pk, note.sample_id)
        return _render(request, plant, sample, {"annotate": form})
    return render(request, f"{TEMPLATE}#period-form",
                  {"plant": plant, "ch": note.characteristic, "form": form, "note": note})


SAMPLE = "p/<str:code>/c/<int:pk>/samples/<int:sid>/"
urlpatterns: list = [
    path(SAMPLE, inspector, name="sample-inspector"),
    path(f"{SAMPLE}acknowledge/", acknowledge_violations, name="sample-acknowledge"),
    path(f"{SAMPLE}exclude/", exclude_sample, name="sample-exclude"),
    path(f"{SAMPLE}restore/", restore_sample, name="sample-restore"),
    path(f"{SAMPLE}correct/", correct_sample, name="sample-correct"),
    path("p/<str:code>/c/<int:pk>/annotations/", annotation_add, name="annotation-add"),
    path("p/<str:code>/c/<int:pk>/annotations/<int:aid>/delete/", annotation_delete,
         name="annotation-delete"),
    path("p/<str:code>/c/<int:pk>/annotations/<int:aid>/edit/", annotation_edit,
         name="annotation-edit"),
]
