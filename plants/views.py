from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from plants import hierarchy
from plants.access import get_for_user, plants_for
from plants.decorators import plant_view
from plants.forms import NodeCreateForm, NodeMoveForm, NodeRenameForm
from plants.models import Node
from plants.roles import Action


@login_required
@require_GET
def home(request):
    plants = plants_for(request.user)
    remembered = plants.filter(code=request.session.get("plant_code")).first()
    plant = remembered or plants.first()
    if plant is None:
        return render(request, "plants/no_plant.html")
    return redirect("plant-home", code=plant.code)


@require_GET
@plant_view(Action.VIEW)
def node_children(request, plant, node_id):
    parent = get_for_user(Node.objects.filter(plant=plant), request.user, pk=node_id)
    children = hierarchy.children_of(plant, parent)
    characteristics = parent.characteristics.order_by("name").only("pk", "name", "chart_type")
    return render(request, "plants/tree.html#tree-level",
                  {"plant": plant, "nodes": children, "parent": parent,
                   "characteristics": characteristics})


@require_GET
@plant_view(Action.ADMINISTER)
def hierarchy_page(request, plant):
    context = {"plant": plant, "rows": hierarchy.flatten(hierarchy.build_tree(plant)),
               "create_form": NodeCreateForm(plant=plant)}
    template = "plants/hierarchy.html#hierarchy-table" if request.htmx else "plants/hierarchy.html"
    return render(request, template, context)


def _changed(message):
    response = HttpResponse(status=204)
    return trigger_client_event(response, "hierarchyChanged", {"message": message})


def _node_form(request, template, form, **context):
    return render(request, f"plants/node_forms.html#{template}", {"form": form, **context})


@require_http_methods(["GET", "POST"])
@plant_view(Action.ADMINISTER)
def node_create(request, plant):
    form = NodeCreateForm(request.POST or None, plant=plant)
    if request.method == "POST" and form.is_valid():
        try:
            node = hierarchy.create_node(plant, form.cleaned_data["name"],
                                         form.cleaned_data["level"], form.cleaned_data["parent"])
            return _changed(f"Added '{node.name}'.")
        except ValidationError as exc:
            _add_errors(form, exc)
    return _node_form(request, "create-form", form, plant=plant)


def _node_for_admin(request, plant, node_id):
    return get_for_user(Node.objects.filter(plant=plant), request.user, Action.ADMINISTER,
                        pk=node_id)


@require_http_methods(["GET", "POST"])
@plant_view(Action.ADMINISTER)
def node_rename(request, plant, node_id):
    node = _node_for_admin(request, plant, node_id)
    form = NodeRenameForm(request.POST or None, initial={"name": node.name})
    if request.method == "POST" and form.is_valid():
        try:
            hierarchy.rename_node(node, form.cleaned_data["name"])
            return _changed(f"Renamed to '{node.name}'.")
        except ValidationError as exc:
            _add_errors(form, exc)
    return _node_form(request, "rename-form", form, plant=plant, node=node)


@require_http_methods(["GET", "POST"])
@plant_view(Action.ADMINISTER)
def node_move(request, plant, node_id):
    node = _node_for_admin(request, plant, node_id)
    form = NodeMoveForm(request.POST or None, node=node, initial={"parent": node.parent_id})
    if request.method == "POST" and form.is_valid():
        try:
            hierarchy.move_node(node, form.cleaned_data["parent"])
            return _changed(f"Moved '{node.name}'.")
        except ValidationError as exc:
            _add_errors(form, exc)
    return _node_form(request, "move-form", form, plant=plant, node=node)


@require_POST
@plant_view(Action.ADMINISTER)
def node_delete(request, plant, node_id):
    node = _node_for_admin(request, plant, node_id)
    try:
        hierarchy.delete_node(node)
    except ValidationError as exc:
        response = HttpResponse(status=204)
        return trigger_client_event(response, "hierarchyError", {"message": " ".join(exc.messages)})
    return _changed(f"Deleted '{node.name}'.")


def _add_errors(form, exc: ValidationError):
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
