"""REST API for plants and their hierarchy; the same plant permissions as the pages."""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListCreateAPIView
from rest_framework.response import Response

from openspc.api_params import Pages, id_param
from plants import hierarchy
from plants.access import plants_for, require, scope
from plants.models import Level, Node, Plant
from plants.roles import Action


def drf_error(exc: DjangoValidationError) -> ValidationError:
    """A Django ValidationError from a service as DRF's field-keyed 400."""
    if hasattr(exc, "error_dict"):
        return ValidationError(exc.message_dict)
    return ValidationError({"non_field_errors": exc.messages})


class PlantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Plant
        fields = ["id", "name", "code", "created_at"]


class PlantList(ListCreateAPIView):
    """Plants where you hold a role. Creating a plant needs a superuser."""

    serializer_class = PlantSerializer
    pagination_class = Pages

    def get_queryset(self):
        return plants_for(self.request.user)

    def perform_create(self, serializer):
        if not self.request.user.is_superuser:
            raise PermissionDenied("Only a superuser can create plants.")
        serializer.save()


class NodeSerializer(serializers.ModelSerializer):
    level = serializers.ChoiceField(choices=Level.choices)
    parent = serializers.PrimaryKeyRelatedField(queryset=Node.objects.none(), allow_null=True,
                                                required=False)
    plant = serializers.PrimaryKeyRelatedField(queryset=Plant.objects.none())

    class Meta:
        model = Node
        fields = ["id", "plant", "parent", "name", "level"]
        validators = []  # hierarchy.create_node checks sibling names (and makes parent optional)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["plant"].queryset = plants_for(request.user)
            self.fields["parent"].queryset = scope(Node.objects.all(), request.user)


@extend_schema_view(get=extend_schema(parameters=[OpenApiParameter("plant", int)]))
class NodeList(ListCreateAPIView):
    """Hierarchy nodes of your plants (`?plant=<id>` to narrow); POST needs Admin there."""

    serializer_class = NodeSerializer
    pagination_class = Pages

    def get_queryset(self):
        qs = scope(Node.objects.all(), self.request.user).order_by("plant_id", "name")
        plant = id_param(self.request.query_params, "plant")
        return qs if plant is None else qs.filter(plant_id=plant)

    def perform_create(self, serializer):
        data = serializer.validated_data
        require(self.request.user, data["plant"].pk, Action.ADMINISTER)
        try:
            serializer.instance = hierarchy.create_node(
                data["plant"], data["name"], data["level"], data.get("parent")
            )
        except DjangoValidationError as exc:
            raise drf_error(exc) from None


def _tree_json(items):
    return [{"id": t.node.pk, "name": t.node.name, "level": t.node.level,
             "level_name": t.node.get_level_display(), "children": _tree_json(t.children)}
            for t in items]


@extend_schema(parameters=[OpenApiParameter("plant", int, required=True)], responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
def node_tree(request):
    """The whole hierarchy of one plant as nested nodes: `?plant=<id>`."""
    plant_id = id_param(request.query_params, "plant", required=True)
    plant = plants_for(request.user).filter(pk=plant_id).first()
    if plant is None:
        return Response({"detail": "No such plant."}, status=status.HTTP_404_NOT_FOUND)
    return Response({"plant": plant.pk, "nodes": _tree_json(hierarchy.build_tree(plant))})

