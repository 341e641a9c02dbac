"""The operator dashboard, the plant's home page: /p/<plant>/ — to-do cards for the manual
characteristics of the chosen node (`?node=`, the whole plant by default), status tiles for the
tag-fed ones, and the selected card's live chart beside them."""

from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from plants.access import get_for_user, may, role_for
from plants.decorators import plant_view
from plants.hierarchy import level_counts, subtree_ids
from plants.models import Node
from plants.roles import Action, Role
from spc import due
from spc.models import Characteristic, Provider
from spc.views.chart_page import live_since


def scope_of(request, plant) -> Node | None:
    raw = request.GET.get("node", "")
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit():
        return None
    return get_for_user(Node.objects.filter(plant=plant), request.user, pk=int(raw))


@require_GET
@plant_view(Action.VIEW)
def dashboard(request, plant):
    node = scope_of(request, plant)
    since = live_since()
    characteristics = Characteristic.objects.filter(plant=plant)
    if node is not None:
        characteristics = characteristics.filter(node_id__in=subtree_ids(node))
    everything = due.cards(characteristics)
    todo = [c for c in everything if c.is_manual]
    tiles = [c for c in everything if not c.is_manual]
    role = role_for(request.user, plant)
    selected = request.GET.get("c", "")
    context = {
        "plant": plant, "node": node, "role": role, "todo": todo, "tiles": tiles,
        "nodes": Node.objects.filter(plant=plant).order_by("name"),
        "level_counts": level_counts(plant) if not everything else None,
        "attention": sum(1 for c in todo if c.state != due.IDLE),
        "selected": int(selected) if selected.isascii() and selected.isdigit() else None,
        "characteristic_ids": ",".join(str(c.ch.pk) for c in everything),
        "live_since": since,
        "can_administer": request.user.is_superuser or (role is not None and role >= Role.ADMIN),
        "may_enter": may(request.user, plant.pk, Action.ENTER_DATA),
    }
    return render(request, "spc/dashboard.html", context)


@require_GET
@plant_view(Action.VIEW)
def due_badge(request, plant):
    """The top bar's count of due and overdue samples (re-fetched as time passes)."""
    return render(request, "spc/dashboard.html#due-badge",
                  {"plant": plant, "attention": due.attention_count(plant)})


@require_GET
@plant_view(Action.VIEW)
def card(request, plant, pk):
    """One card (or tile), as a sample or an acknowledgment left it."""
    ch = get_for_user(Characteristic.objects.filter(plant=plant), request.user, pk=pk)
    c = due.card(ch)
    part = "todo-card" if ch.provider == Provider.MANUAL else "status-tile"
    return render(request, f"spc/dashboard.html#{part}", {
        "plant": plant, "c": c, "may_enter": may(request.user, plant.pk, Action.ENTER_DATA)})


urlpatterns = [
    path("p/<str:code>/", dashboard, name="plant-home"),
    path("p/<str:code>/due-badge/", due_badge, name="due-badge"),
    path("p/<str:code>/cards/<int:pk>/", card, name="dashboard-card"),
]
