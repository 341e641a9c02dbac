"""REST API for violations and reason codes."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView, ListCreateAPIView
from rest_framework.response import Response

from alerts.acknowledgment import AcknowledgmentInvalid, acknowledge
from openspc.api_params import MAX_ID, Pages, datetime_param, id_param
from plants.access import get_for_user, plants_for, require, scope
from plants.roles import Action
from spc.models import ReasonCode, Violation


class ViolationSerializer(serializers.ModelSerializer):
    sample_timestamp = serializers.DateTimeField(source="sample.timestamp", read_only=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True,
                                                   allow_null=True)

    class Meta:
        model = Violation
        fields = ["id", "plant", "characteristic", "sample", "sample_timestamp", "rule", "chart", "severity",
                  "points", "requires_ack", "created_at", "superseded_at", "acknowledged_at",
                  "acknowledged_by", "reason_code", "comment"]


@extend_schema_view(get=extend_schema(parameters=[
    OpenApiParameter("plant", int), OpenApiParameter("characteristic", int),
    OpenApiParameter("rule", int), OpenApiParameter("acknowledged", bool),
    OpenApiParameter("from", OpenApiTypes.DATETIME), OpenApiParameter("to", OpenApiTypes.DATETIME),
    OpenApiParameter("superseded", bool)]))
class ViolationList(ListAPIView):
    """Live violations of your plants, newest first. Filters: `plant`, `characteristic`, `rule`,
    `acknowledged` (true/false), `from`, `to` (sample time), `superseded=true` to include old ones."""

    serializer_class = ViolationSerializer
    pagination_class = Pages

    def get_queryset(self):
        params = self.request.query_params
        qs = scope(Violation.objects.select_related("sample", "acknowledged_by"),
                   self.request.user).order_by("-sample__timestamp", "-id")
        if params.get("superseded", "").lower() not in ("1", "true", "yes"):
            qs = qs.filter(superseded_at__isnull=True)
        for name in ("plant", "characteristic"):
            if (value := id_param(params, name)) is not None:
                qs = qs.filter(**{f"{name}_id": value})
        if (rule := id_param(params, "rule", "Give a rule number.")) is not None:
            qs = qs.filter(rule=rule)
        if "acknowledged" in params:
            qs = qs.filter(acknowledged_at__isnull=params["acknowledged"].lower() not in
                           ("1", "true", "yes"))
        for name, lookup in (("from", "sample__timestamp__gte"), ("to", "sample__timestamp__lte")):
            if (value := datetime_param(params, name)) is not None:
                qs = qs.filter(**{lookup: value})
        return qs


class AckSerializer(serializers.Serializer):
    reason_code = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000)


def _ack(request, violations):
    form = AckSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    try:
        done = acknowledge(violations, request.user, form.validated_data["reason_code"],
                           form.validated_data.get("comment", ""))
    except AcknowledgmentInvalid as exc:
        raise ValidationError(exc.errors) from None
    return done


@extend_schema(request=AckSerializer, responses=ViolationSerializer, operation_id="violation_acknowledge")
@api_view(["POST"])
def acknowledge_one(request, pk):
    """Acknowledge a violation with a `reason_code` (id) and `comment`; you are recorded as who."""
    violation = get_for_user(Violation.objects.all(), request.user, Action.EDIT, pk=pk)
    return Response(ViolationSerializer(_ack(request, [violation])[0]).data)


@extend_schema(request=inline_serializer("AcknowledgeMany", {"ids": serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID)), "reason_code": serializers.IntegerField(min_value=1, max_value=MAX_ID), "comment": serializers.CharField(required=False)}),
               responses=ViolationSerializer(many=True), operation_id="violations_acknowledge_many")
@api_view(["POST"])
def acknowledge_many(request):
    """Acknowledge several violations of one plant at once: `{"ids": [...], "reason_code", "comment"}`."""
    ids = request.data.get("ids") if isinstance(request.data, dict) else None
    if not isinstance(ids, list) or not ids or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_ID for i in ids):
        raise ValidationError({"ids": ["Send a non-empty list of violation ids."]})
    found = list(scope(Violation.objects.all(), request.user).filter(pk__in=ids))
    missing = sorted(set(ids) - {v.pk for v in found})
    if missing:
        return Response({"detail": f"No such violation(s): {missing}."},
                        status=status.HTTP_404_NOT_FOUND)
    for plant_id in {v.plant_id for v in found}:
        require(request.user, plant_id, Action.EDIT)
    return Response(ViolationSerializer(_ack(request, found), many=True).data)


class ReasonCodeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReasonCode
        fields = ["id", "plant", "name", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["plant"].queryset = plants_for(request.user)


@extend_schema_view(get=extend_schema(parameters=[OpenApiParameter("plant", int)]))
class ReasonCodeList(ListCreateAPIView):
    """Reason codes of your plants (`?plant=`); adding one needs Engineer at that plant."""

    serializer_class = ReasonCodeSerializer
    pagination_class = None

    def get_queryset(self):
        qs = scope(ReasonCode.objects.all(), self.request.user)
        plant = id_param(self.request.query_params, "plant")
        return qs if plant is None else qs.filter(plant_id=plant)

    def perform_create(self, serializer):
        require(self.request.user, serializer.validated_data["plant"].pk, Action.CONFIGURE)
        serializer.save()
