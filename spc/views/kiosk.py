"""The kiosk: /p/<plant>/kiosk/<node>/ — a wall display of a node's live charts (the node and
everything below it), out-of-control ones first, in pages that rotate. Opened by a logged-in
user, or by anyone holding an active kiosk link of that node (`?key=`, plants.kiosk)."""

from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from plants import kiosk as kiosk_links
from plants.access import get_plant
from plants.hierarchy import subtree_ids
from plants.models import Node, Plant
from spc import charts
from spc.chart_data import chart_data
from spc.models import Characteristic
from spc.views.chart_page import live_since, script_json, span_of, unacked_samples

# (query name, default, lowest, highest)
OPTIONS = {"rotate": (20, 5, 600), "per_page": (6, 1, 12), "points": (60, 10, 300)}


def _option(request, name) -> int:
    default, lo, hi = OPTIONS[name]
    raw = request.GET.get(name, "")
    return min(max(int(raw), lo), hi) if raw.isascii() and raw.isdigit() else default


def _viewer(request, code, node_id):
    """(plant, node, kiosk key or "") the request may see, or raise 404 / send to login."""
    key = request.GET.get("key", "")
    if key:
        plant = Plant.objects.filter(code=code).first()
        link = kiosk_links.verify(key, plant.pk, node_id) if plant else None
        if link is None:
            raise Http404("This kiosk link is not valid or was revoked.")
        return plant, link.node, key
    if not request.user.is_authenticated:
        return None
    plant = get_plant(request.user, code)
    return plant, get_object_or_404(Node, plant=plant, pk=node_id), ""


def _tile(ch, points: int) -> dict:
    data = chart_data(ch, last=points)
    unacked = unacked_samples(ch, span_of(data))
    figure = charts.compact(charts.figure(data, unacked))
    main = next((t for t in figure["data"] if t["meta"]["series"] in ("p.value", "p.upper")),
                {"y": []})
    rules = data["primary"]["rules"]
    last_out = bool(rules and rules[-1])
    return {"ch": ch, "figure_json": script_json(figure), "points": len(data["sample_id"]),
            "last": main["y"][-1] if main["y"] else None,
            "last_time": charts.local_times(data["timestamp"][-1:])[0] if data["sample_id"].size
            else "", "waiting": len(unacked),
            "state": "bad" if unacked or last_out else "ok"}


@never_cache
@require_GET
def kiosk(request, code, node_id):
    viewer = _viewer(request, code, node_id)
    if viewer is None:
        return redirect_to_login(request.get_full_path())
    plant, node, key = viewer
    since = live_since()
    characteristics = (Characteristic.objects.filter(plant=plant, node_id__in=subtree_ids(node))
                       .select_related("node").order_by("name"))
    points = _option(request, "points")
    tiles = sorted((_tile(ch, points) for ch in characteristics),
                   key=lambda t: (t["state"] != "bad", t["ch"].name))
    return render(request, "spc/kiosk.html", {
        "plant": plant, "node": node, "tiles": tiles, "kiosk_key": key, "points": points,
        "rotate": _option(request, "rotate"), "per_page": _option(request, "per_page"),
        "characteristic_ids": ",".join(str(t["ch"].pk) for t in tiles), "live_since": since,
    })


urlpatterns = [path("p/<str:code>/kiosk/<int:node_id>/", kiosk, name="kiosk")]
