"""The chart page of a characteristic: /p/<plant>/c/<id>/ — the control chart with its
secondary chart, the histogram with capability, the violations and annotations of the visible
range; live through the plant's channel (static/openspc/chart.js)."""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.db.models import Max, Min, Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from plants.access import get_for_user, role_for
from plants.decorators import plant_view
from plants.roles import Action, Role
from spc import charts
from spc.api.renderers import dumps
from spc.capability_report import CapabilityUnavailable, capability_and_values, capability_for
from spc.chart_data import chart_data
from spc.models import Annotation, Characteristic, Sample, Violation
from spc.rule_settings import Severity

RANGES = ("50", "100", "500", "all")
DEFAULT_LAST = 100
MAX_VIOLATIONS = 200


@dataclass(frozen=True)
class ChartRange:
    """What part of the history the page shows: the last N samples, all of them, or the days
    from `start` to `end` (inclusive, in the site's time zone)."""

    last: int | None = DEFAULT_LAST
    start: datetime | None = None
    end: datetime | None = None
    key: str = str(DEFAULT_LAST)  # "50" … "all", or "dates"
    error: str = ""

    def selection(self) -> dict:
        return {"last": self.last, "start": self.start, "end": self.end}

    @property
    def query(self) -> str:
        if self.key == "dates":
            return (f"from={timezone.localtime(self.start).date().isoformat()}"
                    f"&to={timezone.localtime(self.end).date().isoformat()}")
        return f"last={self.key}"

    @property
    def follows_new_points(self) -> bool:
        """Whether new samples join the view (not when it ends in the past)."""
        return self.end is None or self.end >= timezone.now()


def chart_range(params) -> ChartRange:
    """The range asked for in the query (`last=50|100|500|all`, or `from`/`to` dates), or the
    default with a message saying what was wrong."""
    last = params.get("last")
    start, end = params.get("from"), params.get("to")
    if start or end:
        try:
            first = datetime.fromisoformat(start).date() if start else None
            final = datetime.fromisoformat(end).date() if end else None
        except ValueError:
            return ChartRange(error="Dates must look like 2026-12-01.")
        if first and final and final < first:
            return ChartRange(error="The end date is before the start date.")
        zone = timezone.get_current_timezone()
        lo = timezone.make_aware(datetime.combine(first, time.min), zone) if first else None
        hi = (timezone.make_aware(datetime.combine(final + timedelta(days=1), time.min), zone)
              - timedelta(microseconds=1)) if final else None
        return ChartRange(last=None, start=lo, end=hi, key="dates")
    if last is None or last == "":
        return ChartRange()
    if last not in RANGES:
        return ChartRange(error=f"Show the last 50, 100 or 500 samples, or all — not {last!r}.")
    return ChartRange(last=None if last == "all" else int(last), key=last)


def characteristic_of(request, plant, pk) -> Characteristic:
    return get_for_user(Characteristic.objects.filter(plant=plant).select_related("node"),
                        request.user, pk=pk)


def span_of(data) -> dict | None:
    stamps = data["timestamp"]
    if not stamps.size:
        return None
    return {"start": charts.local_times(stamps[:1])[0], "end": charts.local_times(stamps[-1:])[0],
            "lo": _aware(stamps[0]), "hi": _aware(stamps[-1])}


def _aware(moment) -> datetime:
    return moment.astype("datetime64[us]").item().replace(tzinfo=UTC)


def unacked_samples(ch, span) -> set[int]:
    if span is None:
        return set()
    return set(Violation.objects.filter(
        characteristic=ch, superseded_at__isnull=True, acknowledged_at__isnull=True,
        requires_ack=True, sample__timestamp__gte=span["lo"], sample__timestamp__lte=span["hi"],
    ).values_list("sample_id", flat=True))


def _annotations(ch, span) -> list[Annotation]:
    if span is None:
        return []
    return list(Annotation.objects.filter(characteristic=ch).filter(
        Q(sample__timestamp__gte=span["lo"], sample__timestamp__lte=span["hi"])
        | Q(sample__isnull=True, start__lte=span["hi"], end__gte=span["lo"]),
    ).select_related("sample", "created_by").order_by("created_at"))


def _figures(ch, rng: ChartRange, version) -> dict:
    """Everything the chart draws for the range, in a handful of queries."""
    data = chart_data(ch, **rng.selection())
    span = span_of(data)
    annotations = _annotations(ch, span)
    figure = charts.figure(data, unacked_samples(ch, span), annotations)
    report, problem, values = capability_and_values(ch, **rng.selection(), version=version)
    return {"data": data, "span": span, "figure": figure, "annotations": annotations,
            "histogram": charts.histogram(values, report, ch) if values else None,
            "capability": report, "capability_message": str(problem) if problem else ""}


def _violations(ch, span) -> list[Violation]:
    if span is None:
        return []
    return list(Violation.objects.filter(
        characteristic=ch, superseded_at__isnull=True, sample__timestamp__gte=span["lo"],
        sample__timestamp__lte=span["hi"],
    ).select_related("sample", "acknowledged_by", "reason_code")
        .order_by("-sample__timestamp", "rule")[:MAX_VIOLATIONS])


@dataclass
class FlaggedSample:
    """One row of the violations list: a sample and the live violations at it."""

    sample: Sample
    violations: list

    @property
    def rules(self) -> list[int]:
        return sorted({v.rule for v in self.violations})

    @property
    def waiting(self) -> bool:
        return any(v.requires_ack and v.acknowledged_at is None for v in self.violations)

    @property
    def severity(self) -> str:
        order = [Severity.CRITICAL, Severity.WARNING, Severity.INFO]
        worst = min(order.index(v.severity) if v.severity in order else len(order)
                    for v in self.violations)
        return Severity(order[min(worst, len(order) - 1)])

    @property
    def acknowledged(self):
        done = [v for v in self.violations if v.acknowledged_at is not None]
        return done[-1] if done else None


def flagged_samples(violations: list[Violation]) -> list[FlaggedSample]:
    rows: dict[int, FlaggedSample] = {}
    for v in violations:
        rows.setdefault(v.sample_id, FlaggedSample(v.sample, [])).violations.append(v)
    return list(rows.values())


def _node_path(node) -> list:
    path_nodes = []
    while node is not None:
        path_nodes.append(node)
        node = node.parent
    return list(reversed(path_nodes))


def live_since() -> int:
    """The live channel's bookmark, read before a page reads its data: whatever changes after
    it reaches the page live (templates/includes/live.html)."""
    from alerts.live import last_event_id  # the live channel is the alerts app's

    return last_event_id()


def script_json(value) -> str:
    """JSON to embed in a <script type="application/json">: "<" escaped, so no text in it (an
    annotation, a name) can close the element."""
    return dumps(value).decode().replace("<", "\\u003c")


@require_GET
@plant_view(Action.VIEW)
def chart_page(request, plant, pk):
    ch = characteristic_of(request, plant, pk)
    rng = chart_range(request.GET)
    since = live_since()  # before reading: what changes from here on reaches the page live
    version = ch.limit_versions.filter(is_active=True).first()
    drawn = _figures(ch, rng, version)
    role = role_for(request.user, plant)
    context = {
        "plant": plant, "ch": ch, "range": rng, "ranges": RANGES, "node_path": _node_path(ch.node),
        "figure_json": script_json(drawn["figure"]),
        "histogram_json": script_json(drawn["histogram"]) if drawn["histogram"] else "",
        "capability": drawn["capability"], "capability_message": drawn["capability_message"],
        "flagged": flagged_samples(_violations(ch, drawn["span"])), "annotations": drawn["annotations"],
        "points": len(drawn["data"]["sample_id"]), "span": drawn["span"],
        "version": version,
        "may_supervise": request.user.is_superuser or (role is not None
                                                       and role >= Role.SUPERVISOR),
        "live_since": since,
    }
    if rng.error:
        context["range_error"] = rng.error
    if request.htmx and request.GET.get("embed"):  # the dashboard's chart beside its cards
        return render(request, "spc/chart.html#embed", context)
    return render(request, "spc/chart.html", context)


@require_GET
@plant_view(Action.VIEW)
def chart_figure(request, plant, pk):
    """The figures of the range as JSON, for the range selector and for live refreshes."""
    ch = characteristic_of(request, plant, pk)
    rng = chart_range(request.GET)
    if rng.error:
        return JsonResponse({"error": rng.error}, status=400)
    drawn = _figures(ch, rng, ch.limit_versions.filter(is_active=True).first())
    body = {"figure": drawn["figure"], "histogram": drawn["histogram"],
            "points": len(drawn["data"]["sample_id"]), "follows": rng.follows_new_points,
            "query": rng.query}
    return HttpResponse(dumps(body), content_type="application/json")


def _selection_span(ch, rng: ChartRange) -> dict | None:
    """The first and last time of the range's samples, without reading the samples."""
    qs = Sample.objects.filter(characteristic=ch)
    if rng.start is not None:
        qs = qs.filter(timestamp__gte=rng.start)
    if rng.end is not None:
        qs = qs.filter(timestamp__lte=rng.end)
    if rng.last is not None:
        newest = list(qs.order_by("-timestamp", "-id").values_list("timestamp", flat=True)
                      [rng.last - 1:rng.last])
        qs = qs.filter(timestamp__gte=newest[0]) if newest else qs
    bounds = qs.aggregate(lo=Min("timestamp"), hi=Max("timestamp"))
    return None if bounds["lo"] is None else bounds


@require_GET
@plant_view(Action.VIEW)
def chart_panels(request, plant, pk):
    """The capability panel and the violations list of the range (htmx partials)."""
    ch = characteristic_of(request, plant, pk)
    rng = chart_range(request.GET)
    part = request.GET.get("part", "capability")
    if part not in ("capability", "violations", "annotations"):
        raise Http404("No such panel.")
    context = {"plant": plant, "ch": ch, "range": rng}
    if part == "capability":
        try:
            context["capability"] = capability_for(ch, **rng.selection())
        except CapabilityUnavailable as exc:
            context["capability_message"] = str(exc)
    elif part == "violations":
        context["flagged"] = flagged_samples(_violations(ch, _selection_span(ch, rng)))
    else:
        context["annotations"] = _annotations(ch, _selection_span(ch, rng))
    return render(request, f"spc/chart.html#{part}", context)


urlpatterns = [
    path("p/<str:code>/c/<int:pk>/", chart_page, name="chart"),
    path("p/<str:code>/c/<int:pk>/figure/", chart_figure, name="chart-figure"),
    path("p/<str:code>/c/<int:pk>/panels/", chart_panels, name="chart-panels"),
]
