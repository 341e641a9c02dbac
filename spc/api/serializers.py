from datetime import timedelta

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from plants.access import scope
from plants.models import Node
from spc import rule_settings
from spc.engine import MAX_N
from spc.models import (
    SUBGROUP_CHARTS,
    Characteristic,
    ChartType,
    ControlLimits,
    Sample,
)
from spc.sample_input import MAX_MAGNITUDE, MAX_WHOLE


class RuleSettingSerializer(serializers.Serializer):
    rule = serializers.IntegerField(min_value=1, max_value=8)
    enabled = serializers.BooleanField(required=False)
    requires_ack = serializers.BooleanField(required=False)
    severity = serializers.ChoiceField(choices=["INFO", "WARNING", "CRITICAL"], required=False)


class CharacteristicSerializer(serializers.ModelSerializer):
    node = serializers.PrimaryKeyRelatedField(queryset=Node.objects.none())
    rules = RuleSettingSerializer(many=True, required=False, write_only=True)
    rule_settings = serializers.SerializerMethodField()
    phase = serializers.SerializerMethodField()

    class Meta:
        model = Characteristic
        fields = [
            "id", "plant", "node", "name", "description", "unit", "decimal_places", "chart_type",
            "subgroup_size", "variable_subgroup_size", "ewma_lambda", "ewma_l", "cusum_k",
            "cusum_h", "target", "usl", "lsl", "sampling_interval", "provider",
            "trial_min_subgroups", "auto_freeze_after", "rules", "rule_settings", "phase",
            "created_at",
        ]
        read_only_fields = ["plant", "created_at"]
        # Bounds that keep every limit and index a finite number (see spc.sample_input).
        extra_kwargs = {
            **{f: {"min_value": -MAX_MAGNITUDE, "max_value": MAX_MAGNITUDE}
               for f in ("target", "usl", "lsl")},
            "ewma_lambda": {"min_value": 0, "max_value": 1},
            **{f: {"min_value": 0, "max_value": 100} for f in ("ewma_l", "cusum_k", "cusum_h")},
            "sampling_interval": {"min_value": timedelta(0), "max_value": timedelta(days=366)},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["node"].queryset = scope(Node.objects.all(), request.user)

    @extend_schema_field(RuleSettingSerializer(many=True))
    def get_rule_settings(self, ch):
        return [vars(s) for s in rule_settings.settings_for(ch).values()]

    def get_phase(self, ch) -> str:
        established = getattr(ch, "established", None)
        if established is None:
            established = ch.limit_versions.exists()
        return "established" if established else "trial"

    def validate(self, attrs):
        merged = {f: getattr(self.instance, f) for f in
                  ("chart_type", "subgroup_size", "usl", "lsl", "target", "ewma_lambda",
                   "variable_subgroup_size")} if self.instance else {}
        merged.update(attrs)
        chart, n = merged.get("chart_type"), merged.get("subgroup_size", 1)
        errors = {}
        if self.instance and "chart_type" in attrs and attrs["chart_type"] != self.instance.chart_type \
                and self.instance.samples.exists():
            errors["chart_type"] = "The chart type cannot change once samples exist."
        for name in ("subgroup_size", "variable_subgroup_size"):
            if self.instance and name in attrs and attrs[name] != getattr(self.instance, name) \
                    and self.instance.samples.exists():
                errors[name] = ("The subgroup size cannot change once samples exist: their "
                                "statistics and limits depend on it.")
        if self.instance and "node" in attrs and attrs["node"].plant_id != self.instance.plant_id:
            errors["node"] = "A characteristic cannot move to another plant."
        if chart in SUBGROUP_CHARTS and not 2 <= n <= MAX_N:
            errors["subgroup_size"] = f"X̄ charts need a subgroup size of 2 to {MAX_N}."
        if chart == ChartType.IMR and n != 1:
            errors["subgroup_size"] = "An individuals chart has a subgroup size of 1."
        if chart in (ChartType.EWMA, ChartType.CUSUM) and n != 1:
            errors["subgroup_size"] = "EWMA and CUSUM charts here take individual values (n = 1)."
        if chart == ChartType.C and n != 1:
            errors["subgroup_size"] = "A c chart counts defects per sample (n = 1)."
        usl, lsl = merged.get("usl"), merged.get("lsl")
        if usl is not None and lsl is not None and not usl > lsl:
            errors["usl"] = "USL must be greater than LSL."
        if not 0 < merged.get("ewma_lambda", 0.2) <= 1:
            errors["ewma_lambda"] = "λ must be in (0, 1]."
        for name, what in (("ewma_l", "L"), ("cusum_h", "h")):
            if name in attrs and not attrs[name] > 0:
                errors[name] = f"{what} must be greater than 0."
        if chart == ChartType.NP and merged.get("variable_subgroup_size"):
            errors["variable_subgroup_size"] = "An np chart needs a constant sample size."
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _apply_rules(self, validated):
        rules = validated.pop("rules", None)
        if rules is not None:
            current = dict(self.instance.rule_settings) if self.instance else {}
            current.update(rule_settings.validate([dict(r) for r in rules]))
            validated["rule_settings"] = current
        return validated

    def create(self, validated):
        validated = self._apply_rules(validated)
        validated["plant"] = validated["node"].plant
        return super().create(validated)

    def update(self, instance, validated):
        return super().update(instance, self._apply_rules(validated))


class ViolationBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rule = serializers.IntegerField()
    chart = serializers.CharField()
    severity = serializers.CharField()
    points = serializers.ListField(child=serializers.IntegerField())
    requires_ack = serializers.BooleanField()


class SampleInputSerializer(serializers.Serializer):
    """A sample as sent: `values` for variables charts, `count` (+ `sample_size`) for attributes.

    Values are taken as sent (numbers or numeric text) and judged by the pipeline, which
    names the offending value."""

    values = serializers.ListField(child=serializers.JSONField(), required=False, allow_empty=True)
    count = serializers.JSONField(required=False)
    sample_size = serializers.JSONField(required=False)
    timestamp = serializers.DateTimeField(required=False)
    batch = serializers.CharField(required=False, allow_blank=True, max_length=64)
    operator = serializers.CharField(required=False, allow_blank=True, max_length=64)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    key = serializers.CharField(
        required=False, max_length=100,
        help_text="Idempotency key, unique per characteristic: sending a sample again with a key "
                  "already used records nothing and answers the stored sample (200, not 201).")


class SampleSerializer(serializers.ModelSerializer):
    values = serializers.SerializerMethodField()
    violations = serializers.SerializerMethodField()

    class Meta:
        model = Sample
        fields = ["id", "characteristic", "timestamp", "values", "count", "n", "mean", "range",
                  "sd", "batch", "operator", "comment", "source", "excluded", "exclusion_reason",
                  "key", "created_by", "violations"]

    def get_values(self, sample) -> list[float]:
        cached = getattr(sample, "_values", None)
        if cached is not None:
            return cached
        return [m.value for m in sample.measurements.all()]

    @extend_schema_field(ViolationBriefSerializer(many=True))
    def get_violations(self, sample):
        live = getattr(sample, "_violations", None)
        if live is None:
            live = [v for v in sample.violations.all() if v.superseded_at is None]
        return ViolationBriefSerializer(live, many=True).data


_TIMESTAMP = serializers.DateTimeField()


def recorded_payload(sample, violations) -> dict:
    """`SampleSerializer(sample).data` for a sample just recorded (its values and live
    violations in hand), built directly: a ModelSerializer builds its fields on every use,
    ~0.7 ms of a request that must take a few. A test holds the two equal."""
    return {
        "id": sample.pk, "characteristic": sample.characteristic_id,
        "timestamp": _TIMESTAMP.to_representation(sample.timestamp),
        "values": list(sample._values), "count": sample.count, "n": sample.n,
        "mean": sample.mean, "range": sample.range, "sd": sample.sd, "batch": sample.batch,
        "operator": sample.operator, "comment": sample.comment, "source": sample.source,
        "excluded": sample.excluded, "exclusion_reason": sample.exclusion_reason,
        "key": sample.key, "created_by": sample.created_by_id,
        "violations": [{"id": v.pk, "rule": v.rule, "chart": v.chart, "severity": v.severity,
                        "points": list(v.points), "requires_ack": v.requires_ack}
                       for v in violations],
    }


class ControlLimitsSerializer(serializers.ModelSerializer):
    class Meta:
        model = ControlLimits
        fields = ["id", "version", "is_active", "center", "ucl", "lcl", "sigma", "subgroup_size",
                  "secondary_center", "secondary_ucl", "secondary_lcl", "source", "method",
                  "options", "removed_sample_ids", "sample_count", "reason", "effective_from",
                  "created_at", "created_by"]


def _limit(**kwargs):
    return serializers.FloatField(min_value=-MAX_MAGNITUDE, max_value=MAX_MAGNITUDE, **kwargs)


class ManualLimitsSerializer(serializers.Serializer):
    center = _limit()
    sigma = _limit(required=False)
    ucl = _limit(required=False)
    lcl = _limit(required=False)
    reason = serializers.CharField()
    effective_from = serializers.DateTimeField(required=False)


class RecalculateSerializer(serializers.Serializer):
    first_n = serializers.IntegerField(required=False, min_value=2, max_value=MAX_WHOLE)
    last_n = serializers.IntegerField(required=False, min_value=2, max_value=MAX_WHOLE)
    to = serializers.DateTimeField(required=False)
    exclude_ooc = serializers.BooleanField(default=False)
    reason = serializers.CharField()
    effective_from = serializers.DateTimeField(required=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateTimeField(required=False)  # a Python keyword
        return fields

    def validate(self, attrs):
        chosen = [k for k in ("first_n", "last_n") if k in attrs] + (
            ["from/to"] if "from" in attrs or "to" in attrs else [])
        if len(chosen) > 1:
            raise serializers.ValidationError(
                {"non_field_errors": ["Choose one of first_n, last_n or from/to."]})
        if ("from" in attrs) != ("to" in attrs):
            raise serializers.ValidationError({"to": ["Give both from and to."]})
        if "from" in attrs and attrs["from"] > attrs["to"]:
            raise serializers.ValidationError({"to": ["'to' is before 'from'."]})
        return attrs


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()
