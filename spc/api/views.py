"""REST API for characteristics, samples, limits, charts and capability.

Every view fetches its characteristic through plants.access (404 outside the user's plants,
403 for a role too low; by token, read with the user in one round trip: `@read_with_user`)
and hands writes to the same services the pages use.
"""

from dataclasses import asdict

from django.db.models import Exists, OuterRef, Prefetch
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes, renderer_classes
from rest_framework.exceptions import ValidationError
from rest_framework.fields import DateTimeField, IntegerField
from rest_framework.generics import ListCreateAPIView, RetrieveUpdateAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.response import Response

from openspc.api_auth import read_with_user
from openspc.api_params import Pages, id_param
from plants.access import get_by_pk, require, scope
from plants.roles import Action
from spc import limit_versions, rejudge, sample_edits
from spc.api.chart_schema import ChartDataSerializer
from spc.api.renderers import ORJSONRenderer
from spc.api.serializers import (
    CharacteristicSerializer,
    ControlLimitsSerializer,
    ManualLimitsSerializer,
    ReasonSerializer,
    RecalculateSerializer,
    SampleInputSerializer,
    SampleSerializer,
    recorded_payload,
)
from spc.models import Characteristic, ControlLimits, Source, Violation
from spc.pipeline import MAX_BATCH, BatchInvalid, record_samples
from spc.sample_input import SampleInvalid, SampleRequest


def characteristic_for(request, pk, action=Action.VIEW) -> Characteristic:
    return get_by_pk(Characteristic, request.user, pk, action)


def _established():
    return Exists(ControlLimits.objects.filter(characteristic=OuterRef("pk")))


@extend_schema_view(get=extend_schema(parameters=[OpenApiParameter("node", int),
                                                   OpenApiParameter("plant", int)]))
class CharacteristicList(ListCreateAPIView):
    """Characteristics of your plants (`?node=`, `?plant=`); POST needs Engineer there."""

    serializer_class = CharacteristicSerializer
    pagination_class = Pages

    def get_queryset(self):
        qs = scope(Characteristic.objects.all(), self.request.user).annotate(
            established=_established()).order_by("plant_id", "name")
        for name in ("node", "plant"):
            value = id_param(self.request.query_params, name)
            if value is not None:
                qs = qs.filter(**{f"{name}_id": value})
        return qs

    def perform_create(self, serializer):
        require(self.request.user, serializer.validated_data["node"].plant_id, Action.CONFIGURE)
        serializer.save(created_by=self.request.user)


class CharacteristicDetail(RetrieveUpdateAPIView):
    serializer_class = CharacteristicSerializer
    read_with_user = (Characteristic, "pk")
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        action = Action.VIEW if self.request.method in ("GET", "HEAD", "OPTIONS") else Action.CONFIGURE
        return characteristic_for(self.request, self.kwargs["pk"], action)

    def perform_update(self, serializer):
        """Saved under the characteristic's writer's lock; a change of rules or chart
        parameters re-judges the current stage."""
        with rejudge.writer_lock(serializer.instance) as (_, newest):
            before = {f.name: getattr(serializer.instance, f.name)
                      for f in Characteristic._meta.concrete_fields}
            ch = serializer.save()
            rejudge.configuration_changed(ch, before, newest)


def _request_from(data, source=Source.API) -> SampleRequest:
    return SampleRequest(
        values=data.get("values"), count=data.get("count"), sample_size=data.get("sample_size"),
        timestamp=data.get("timestamp"), batch=data.get("batch", ""),
        operator=data.get("operator", ""), comment=data.get("comment", ""), source=source,
        key=data.get("key"),
    )


def _input(raw) -> SampleRequest:
    """One sample from a request body, as a 400 with field errors when its shape is wrong."""
    try:
        return _request_from_raw(raw)
    except SampleInvalid as exc:
        raise ValidationError(exc.errors) from None


def _created_payload(recorded) -> dict:
    return recorded_payload(recorded.sample, recorded.violations)


def _samples_queryset(ch):
    live = Violation.objects.filter(superseded_at__isnull=True)
    return ch.samples.prefetch_related("measurements", Prefetch("violations", queryset=live))


@read_with_user(Characteristic)
@extend_schema(methods=["GET"], operation_id="samples_list", parameters=[
    OpenApiParameter("from", OpenApiTypes.DATETIME), OpenApiParameter("to", OpenApiTypes.DATETIME),
    OpenApiParameter("excluded", bool), OpenApiParameter("batch", str),
    OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
    responses=inline_serializer("PaginatedSampleList", {
        "count": serializers.IntegerField(), "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": SampleSerializer(many=True)}))
@extend_schema(methods=["POST"], request=SampleInputSerializer,
               responses={201: SampleSerializer, 200: SampleSerializer},
               operation_id="samples_create")
@api_view(["GET", "POST"])
def samples(request, pk):
    """GET: samples, newest first (`from`, `to`, `excluded`, `batch`, `limit`, `offset`).
    POST: record one sample — `{"values": [...]}` or `{"count": k, "sample_size": n}`."""
    if request.method == "GET":
        ch = characteristic_for(request, pk)
        qs = _filter_samples(_samples_queryset(ch), request.query_params).order_by("-timestamp", "-id")
        paginator = Pages()
        page = paginator.paginate_queryset(qs, request)
        return paginator.get_paginated_response(SampleSerializer(page, many=True).data)
    ch = characteristic_for(request, pk, Action.ENTER_DATA)
    sample_request = _input(request.data)
    try:
        recorded = record_samples(ch, [sample_request], request.user)[0]
    except BatchInvalid as exc:
        raise ValidationError(exc.errors[0]) from None
    # a key the characteristic holds already: the stored sample, nothing recorded
    return Response(_created_payload(recorded),
                    status=status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK)


_TIMESTAMP = DateTimeField()
_FIELDS = ("values", "count", "sample_size", "timestamp", "batch", "operator", "comment", "key")


def _request_from_raw(raw) -> SampleRequest:
    """A sample as sent (a bulk row or a whole body) as a SampleRequest. Only the shape is
    checked here; the pipeline validates the content, for every source alike (a per-row DRF
    serializer cost 25× the pipeline's own checks). SampleInputSerializer only describes the
    shape in the OpenAPI schema."""
    if not isinstance(raw, dict):
        raise SampleInvalid({"non_field_errors": ["Each sample must be an object."]})
    data = {k: raw[k] for k in _FIELDS if k in raw}
    if data.get("timestamp") is not None:
        try:
            data["timestamp"] = _TIMESTAMP.to_internal_value(data["timestamp"])
        except ValidationError as exc:
            raise SampleInvalid({"timestamp": [str(m) for m in exc.detail]}) from None
    for name in ("batch", "operator", "comment"):
        if data.get(name) is None:
            data.pop(name, None)
    return _request_from(data)


def _filter_samples(qs, params):
    for name, lookup in (("from", "timestamp__gte"), ("to", "timestamp__lte")):
        if name in params:
            try:
                qs = qs.filter(**{lookup: DateTimeField().to_internal_value(params[name])})
            except ValidationError:
                raise ValidationError({name: ["Give an ISO 8601 date and time."]}) from None
    if "excluded" in params:
        qs = qs.filter(excluded=params["excluded"].lower() in ("1", "true", "yes"))
    if "batch" in params:
        qs = qs.filter(batch=params["batch"])
    return qs


@read_with_user(Characteristic)
@extend_schema(request=inline_serializer("BulkSamples", {"samples": SampleInputSerializer(many=True)}),
               responses={201: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT})
@api_view(["POST"])
def samples_bulk(request, pk):
    """Record up to 10,000 samples at once, all or nothing: `{"samples": [...]}`.
    Errors name each rejected row by its position in the list (0-based `row`)."""
    ch = characteristic_for(request, pk, Action.ENTER_DATA)
    rows = request.data.get("samples") if isinstance(request.data, dict) else None
    if not isinstance(rows, list) or not rows:
        raise ValidationError({"samples": ["Send a non-empty list of samples."]})
    if len(rows) > MAX_BATCH:
        raise ValidationError({"samples": [f"At most {MAX_BATCH} samples per request "
                                           f"(got {len(rows)})."]})
    requests, errors = [], []
    for row, raw in enumerate(rows):
        try:
            requests.append(_request_from_raw(raw))
        except SampleInvalid as exc:
            errors += [{"row": row, "field": f, "message": m}
                       for f, ms in exc.errors.items() for m in ms]
    if not errors:
        try:
            recorded = record_samples(ch, requests, request.user)
        except BatchInvalid as exc:
            errors = [{"row": row, "field": f, "message": m}
                      for row, fields in sorted(exc.errors.items())
                      for f, ms in fields.items() for m in ms]
    if errors:
        return Response({"detail": f"{len({e['row'] for e in errors})} row(s) rejected; "
                                   "nothing was recorded.", "errors": errors},
                        status=status.HTTP_400_BAD_REQUEST)
    return Response({
        "created": sum(r.created for r in recorded),
        "existing": sum(not r.created for r in recorded),
        "violations": sum(len(r.violations) for r in recorded),
        "samples": [{"id": r.sample.pk, "timestamp": r.sample.timestamp, "created": r.created,
                     "violations": [{"id": v.pk, "rule": v.rule, "chart": v.chart,
                                     "severity": v.severity, "points": v.points}
                                    for v in r.violations]}
                    for r in recorded],
    }, status=status.HTTP_201_CREATED)


def _sample_or_404(request, pk, sid, action):
    ch = characteristic_for(request, pk, action)
    sample = _samples_queryset(ch).filter(pk=sid).first()
    if sample is None:
        raise Http404("No such sample.")
    return sample


@read_with_user(Characteristic)
@extend_schema(methods=["GET"], responses=SampleSerializer, operation_id="sample_retrieve")
@extend_schema(methods=["PATCH"], request=SampleInputSerializer, responses=SampleSerializer,
               operation_id="sample_correct")
@api_view(["GET", "PATCH"])
def sample_detail(request, pk, sid):
    """GET one sample; PATCH corrects its values (or count) with a `reason`."""
    if request.method == "GET":
        return Response(SampleSerializer(_sample_or_404(request, pk, sid, Action.VIEW)).data)
    sample = _sample_or_404(request, pk, sid, Action.EDIT)
    reason = ReasonSerializer(data=request.data)
    reason.is_valid(raise_exception=True)
    try:
        sample_edits.correct(sample, _input(request.data), reason.validated_data["reason"],
                             request.user)
    except SampleInvalid as exc:
        raise ValidationError(exc.errors) from None
    return Response(SampleSerializer(_sample_or_404(request, pk, sid, Action.VIEW)).data)


def _exclusion(request, pk, sid, excluded: bool):
    sample = _sample_or_404(request, pk, sid, Action.EDIT)
    reason = ReasonSerializer(data=request.data)
    reason.is_valid(raise_exception=True)
    try:
        sample_edits.set_excluded(sample, excluded, reason.validated_data["reason"], request.user)
    except SampleInvalid as exc:
        raise ValidationError(exc.errors) from None
    return Response(SampleSerializer(_sample_or_404(request, pk, sid, Action.VIEW)).data)


@read_with_user(Characteristic)
@extend_schema(request=ReasonSerializer, responses=SampleSerializer)
@api_view(["POST"])
def sample_exclude(request, pk, sid):
    """Exclude a sample from limits and rules, with a `reason`; later points are re-judged."""
    return _exclusion(request, pk, sid, True)


@read_with_user(Characteristic)
@extend_schema(request=ReasonSerializer, responses=SampleSerializer)
@api_view(["POST"])
def sample_restore(request, pk, sid):
    """Bring an excluded sample back, with a `reason`; later points are re-judged."""
    return _exclusion(request, pk, sid, False)


@read_with_user(Characteristic)
@extend_schema(methods=["GET"], responses=ControlLimitsSerializer(many=True), operation_id="limits_list")
@extend_schema(methods=["POST"], request=ManualLimitsSerializer, responses={201: ControlLimitsSerializer},
               operation_id="limits_manual")
@api_view(["GET", "POST"])
def limits(request, pk):
    """GET: every limit version, newest first. POST: limits entered by hand — `center` and
    either `sigma` or `ucl`+`lcl`, with a `reason`."""
    if request.method == "GET":
        ch = characteristic_for(request, pk)
        return Response(ControlLimitsSerializer(ch.limit_versions.all(), many=True).data)
    ch = characteristic_for(request, pk, Action.CONFIGURE)
    form = ManualLimitsSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    try:
        version = limit_versions.manual(ch, request.user, **form.validated_data)
    except limit_versions.LimitsInvalid as exc:
        raise ValidationError(exc.errors) from None
    return Response(ControlLimitsSerializer(version).data, status=status.HTTP_201_CREATED)


@read_with_user(Characteristic)
@extend_schema(request=RecalculateSerializer, responses={201: ControlLimitsSerializer})
@api_view(["POST"])
def limits_recalculate(request, pk):
    """New limits from the first N, last N or a time range of samples (`exclude_ooc` removes
    out-of-control points and refits until none remain); the old version is kept."""
    ch = characteristic_for(request, pk, Action.CONFIGURE)
    form = RecalculateSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    data = form.validated_data
    try:
        version = limit_versions.recalculate(
            ch, request.user, data["reason"], first_n=data.get("first_n"),
            last_n=data.get("last_n"), start=data.get("from"), end=data.get("to"),
            exclude_ooc=data["exclude_ooc"], effective_from=data.get("effective_from"))
    except limit_versions.LimitsInvalid as exc:
        raise ValidationError(exc.errors) from None
    return Response(ControlLimitsSerializer(version).data, status=status.HTTP_201_CREATED)


def _range_params(request):
    out = {}
    try:
        if "last" in request.query_params:
            out["last"] = IntegerField(min_value=1, max_value=100_000).run_validation(
                request.query_params["last"])
        for name, key in (("from", "start"), ("to", "end")):
            if name in request.query_params:
                out[key] = DateTimeField().to_internal_value(request.query_params[name])
    except ValidationError as exc:
        raise ValidationError({"query": exc.detail}) from None
    return out


@read_with_user(Characteristic)
@extend_schema(parameters=[OpenApiParameter("last", int), OpenApiParameter("from", OpenApiTypes.DATETIME), OpenApiParameter("to", OpenApiTypes.DATETIME)], responses=ChartDataSerializer)
@api_view(["GET"])
@renderer_classes([ORJSONRenderer, BrowsableAPIRenderer])
def chart_data_view(request, pk):
    """The control chart of the last N samples (`last`, default 100) or of `from`/`to`, as
    columns: one list per field, all of the same length, item i describing point i (in time
    order, excluded samples included).

    Shared by both charts: `sample_id`, `timestamp` (ISO 8601, UTC), `n`, `excluded`,
    `exclusion_reason` ("" when none), `limits_version` (the version in force, null in the
    trial stage). Then `primary` and `secondary` (null for charts without one), each with
    `statistic` and the columns `value`, `center`, `ucl`, `lcl` (the limits in force at each
    point), `z` (as the rules judged it; null when excluded) and `rules` (the rules fired at
    each point, [] for none); a CUSUM primary chart adds `upper` and `lower` (C⁺, C⁻). Null
    means no value. `versions` describes the limit versions involved, `trial` the trial
    limits when the selection reaches the trial stage.

        {"sample_id": [101, 102], "timestamp": ["2026-01-05T08:00:00Z", "…"],
         "n": [5, 5], "excluded": [false, true], "exclusion_reason": ["", "Gauge dropped"],
         "limits_version": [2, 2],
         "primary": {"statistic": "xbar", "value": [74.01, 74.2], "center": [74.0, 74.0],
                     "ucl": [74.013, 74.013], "lcl": [73.987, 73.987], "z": [0.7, null],
                     "rules": [[], []]},
         "secondary": {"statistic": "r", …}, "versions": [{"version": 2, …}], "trial": null,
         "characteristic": {"id": 7, …}}
    """
    from spc.chart_data import chart_data

    ch = characteristic_for(request, pk)
    params = _range_params(request) or {"last": 100}
    return Response(chart_data(ch, **params))


@read_with_user(Characteristic)
@extend_schema(parameters=[OpenApiParameter("last", int), OpenApiParameter("from", OpenApiTypes.DATETIME), OpenApiParameter("to", OpenApiTypes.DATETIME)], responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
def capability_view(request, pk):
    """Capability over `last=N` samples or `from`/`to` (non-excluded samples only).

    `kind` says which report it is. `normal` (measured values; needs USL and/or LSL): Cp, Cpk,
    Pp, Ppk, Cpm, expected and observed ppm, the Cpk 95 % interval, Anderson–Darling normality.
    `binomial` (p, np): `p`, `percent_defective`, `ppm` and `process_z` (Φ⁻¹(1 − p)), each with
    its exact 95 % interval (`*_ci95`). `poisson` (c, u): `dpu` (defects per unit) and
    `mean_defects` (per sample) with exact 95 % intervals, `min_dpu`, `max_dpu`,
    `yield_percent` (e^−DPU). All carry `n_samples`, `from`, `to` and `warnings`.
    """
    from spc.capability_report import CapabilityUnavailable, capability_for

    ch = characteristic_for(request, pk)
    try:
        return Response(capability_for(ch, **_range_params(request)))
    except CapabilityUnavailable as exc:
        raise ValidationError({"detail": str(exc)}) from None


@read_with_user(Characteristic)
@extend_schema(request={"multipart/form-data": inline_serializer("ImportUpload", {"file": serializers.FileField()})},
               responses={201: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT})
@api_view(["POST"])
@parser_classes([MultiPartParser])
def samples_import(request, pk):
    """Upload a CSV or Excel file of historical samples (`file`); all rows or none."""
    from spc.importing import ImportInvalid, import_file

    ch = characteristic_for(request, pk, Action.ENTER_DATA)
    upload = request.FILES.get("file")
    if upload is None:
        raise ValidationError({"file": ["Attach the CSV or .xlsx file as 'file'."]})
    try:
        result = import_file(upload, upload.name, ch, request.user)
    except ImportInvalid as exc:
        return Response({"detail": "Nothing was imported.", "errors": exc.errors},
                        status=status.HTTP_400_BAD_REQUEST)
    return Response(asdict(result), status=status.HTTP_201_CREATED)
