"""The comparison page: /p/<plant>/compare/?c=<id>&c=<id> — characteristics side by side, each
in its own colour, on synchronised time axes, live like the chart page."""

from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from plants.access import scope
from plants.decorators import plant_view
from plants.roles import Action
from spc import charts
from spc.chart_data import chart_data
from spc.models import Characteristic
from spc.views.chart_page import chart_range, live_since, script_json, span_of, unacked_samples

MAX_COMPARED = 4


def _chosen(request, plant) -> tuple[list[Characteristic], str]:
    """The characteristics asked for (in the order given), or why not."""
    raw = request.GET.getlist("c")
    if len(raw) > MAX_COMPARED:
        return [], f"Compare at most {MAX_COMPARED} characteristics at once."
    ids = []
    for value in raw:
        if not value.isascii() or not value.isdigit():
            return [], f"{value!r} is not a characteristic number."
        if int(value) not in ids:
            ids.append(int(value))
    found = {c.pk: c for c in scope(Characteristic.objects.filter(plant=plant, pk__in=ids),
                                    request.user).select_related("node")}
    missing = [i for i in ids if i not in found]
    if missing:
        return [], "No characteristic " + ", ".join(map(str, missing)) + " in this plant."
    return [found[i] for i in ids], ""


@require_GET
@plant_view(Action.VIEW)
def compare(request, plant):
    chosen, error = _chosen(request, plant)
    rng = chart_range(request.GET)
    since = live_since()
    panels = []
    for i, ch in enumerate(chosen):
        data = chart_data(ch, **rng.selection())
        figure = charts.figure(data, unacked_samples(ch, span_of(data)),
                               colour=charts.COMPARE_COLOURS[i % len(charts.COMPARE_COLOURS)])
        panels.append({"ch": ch, "figure_json": script_json(figure),
                       "colour": charts.COMPARE_COLOURS[i % len(charts.COMPARE_COLOURS)],
                       "points": len(data["sample_id"])})
    options = scope(Characteristic.objects.filter(plant=plant), request.user) \
        .select_related("node").order_by("node__name", "name")
    selected = [c.pk for c in chosen] + [None] * (2 - len(chosen))
    context = {"plant": plant, "panels": panels, "error": error or rng.error, "range": rng,
               "options": options, "selected": selected[:max(2, len(chosen))],
               "characteristic_ids": ",".join(str(c.pk) for c in chosen),
               "live_since": since}
    return render(request, "spc/compare.html", context)


urlpatterns = [path("p/<str:code>/compare/", compare, name="compare")]
