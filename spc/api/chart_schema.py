"""The OpenAPI description of the chart-data response.

Documentation only: `spc.chart_data` builds the payload as numpy columns and
`spc.api.renderers` writes it; a serializer per point would cost more than the chart itself.
"""

from rest_framework import serializers


def _column(help_text: str, child=None, **kw):
    return serializers.ListField(child=child or serializers.FloatField(allow_null=True),
                                 help_text=help_text, **kw)


class ChartColumnsSerializer(serializers.Serializer):
    statistic = serializers.CharField(
        help_text="The plotted statistic: xbar, i, p, np, c, u, ewma or cusum on the primary "
                  "chart; r, s or mr on the secondary one.")
    value = _column("Per point: the plotted statistic; null where there is none (CUSUM, an "
                    "excluded EWMA point, a moving range without a previous point).")
    center = _column("Per point: the centre line in force at it; null before any limits.")
    ucl = _column("Per point: the upper control limit in force at it (per point when n varies).")
    lcl = _column("Per point: the lower control limit in force at it.")
    z = _column("Per point: the z-score the rules judged; null for excluded points.")
    rules = _column("Per point: the rule numbers of its live violations, [] for none.",
                    child=serializers.ListField(child=serializers.IntegerField()))
    upper = _column("CUSUM only: C⁺ per point (≥ 0), against ucl = H.", required=False)
    lower = _column("CUSUM only: C⁻ per point (≥ 0), against lcl = −H.", required=False)
    raw = _column("EWMA and CUSUM only: the subgroup mean of each point, which the statistic is "
                  "computed from.", required=False)


class ChartVersionSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    center = serializers.FloatField()
    ucl = serializers.FloatField()
    lcl = serializers.FloatField()
    sigma = serializers.FloatField()
    secondary_center = serializers.FloatField(allow_null=True)
    secondary_ucl = serializers.FloatField(allow_null=True)
    secondary_lcl = serializers.FloatField(allow_null=True)
    source = serializers.CharField()
    method = serializers.CharField()
    reason = serializers.CharField()
    effective_from = serializers.DateTimeField()
    is_active = serializers.BooleanField()


class ChartTrialSerializer(serializers.Serializer):
    center = serializers.FloatField()
    sigma = serializers.FloatField()
    ucl = serializers.FloatField()
    lcl = serializers.FloatField()


class ChartCharacteristicSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    unit = serializers.CharField()
    chart_type = serializers.CharField()
    decimal_places = serializers.IntegerField()
    usl = serializers.FloatField(allow_null=True)
    lsl = serializers.FloatField(allow_null=True)
    target = serializers.FloatField(allow_null=True)


class ChartDataSerializer(serializers.Serializer):
    characteristic = ChartCharacteristicSerializer()
    sample_id = _column("Per point: the sample's id.", child=serializers.IntegerField())
    timestamp = _column("Per point: the sample's time, ISO 8601 in UTC (ending in Z).",
                        child=serializers.DateTimeField())
    n = _column("Per point: the subgroup or inspected sample size.",
                child=serializers.IntegerField())
    excluded = _column("Per point: whether the sample is excluded from the limits and rules.",
                       child=serializers.BooleanField())
    exclusion_reason = _column("Per point: why it is excluded; \"\" when it is not.",
                               child=serializers.CharField(allow_blank=True))
    limits_version = _column("Per point: the number of the limit version in force (see "
                             "`versions`); null in the trial stage (see `trial`).",
                             child=serializers.IntegerField(allow_null=True))
    primary = ChartColumnsSerializer()
    secondary = ChartColumnsSerializer(allow_null=True,
                                       help_text="The R, S or MR chart; null for charts "
                                                 "without one.")
    versions = ChartVersionSerializer(many=True, help_text="The limit versions in force at "
                                                           "some point, in time order.")
    trial = ChartTrialSerializer(allow_null=True,
                                 help_text="The trial limits, when the selection reaches the "
                                           "trial stage (before the first version).")
