"""Characteristics, their versioned control limits, and samples with their measurements."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from plants.models import Node, Plant
from spc.rule_settings import DEFAULT_SEVERITY, Severity, validate  # noqa: F401 (re-exported)


class ChartType(models.TextChoices):
    XBAR_R = "xbar_r", "X̄-R"
    XBAR_S = "xbar_s", "X̄-S"
    IMR = "imr", "Individuals (I-MR)"
    P = "p", "p (fraction defective)"
    NP = "np", "np (number defective)"
    C = "c", "c (defects)"
    U = "u", "u (defects per unit)"
    EWMA = "ewma", "EWMA"
    CUSUM = "cusum", "CUSUM"


ATTRIBUTE_CHARTS = {ChartType.P, ChartType.NP, ChartType.C, ChartType.U}
SUBGROUP_CHARTS = {ChartType.XBAR_R, ChartType.XBAR_S}
# Nelson rules 2-8 are patterns on a Shewhart chart; EWMA and CUSUM signal on their own limits.
SHEWHART_CHARTS = set(ChartType) - {ChartType.EWMA, ChartType.CUSUM}




class Provider(models.TextChoices):
    MANUAL = "MANUAL", "Manual entry"
    TAG = "TAG", "Machine tag (MQTT)"


class Characteristic(models.Model):
    """A measured quality characteristic on a hierarchy node, with its chart and rules."""

    plant = models.ForeignKey(Plant, on_delete=models.PROTECT, related_name="characteristics")
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="characteristics")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    unit = models.CharField(max_length=32, blank=True)
    decimal_places = models.PositiveSmallIntegerField(default=3)
    chart_type = models.CharField(max_length=8, choices=ChartType.choices)
    subgroup_size = models.PositiveSmallIntegerField(
        default=1, help_text="Values per sample (X̄ charts), or the usual sample size (p, np, u)."
    )
    variable_subgroup_size = models.BooleanField(
        default=False, help_text="Accept samples whose size differs from the subgroup size."
    )
    ewma_lambda = models.FloatField("EWMA λ", default=0.2, help_text="Weight of the newest point.")
    ewma_l = models.FloatField("EWMA L", default=3.0, help_text="Width of the limits in σ.")
    cusum_k = models.FloatField("CUSUM k", default=0.5, help_text="Allowance, in σ.")
    cusum_h = models.FloatField("CUSUM h", default=5.0, help_text="Decision interval, in σ.")
    target = models.FloatField(null=True, blank=True)
    usl = models.FloatField("USL", null=True, blank=True)
    lsl = models.FloatField("LSL", null=True, blank=True)
    sampling_interval = models.DurationField(
        null=True, blank=True,
        help_text="How often a sample is due (manual characteristics), e.g. 00:30:00.")
    overdue_after = models.DurationField(
        null=True, blank=True,
        help_text="Grace period after a sample falls due before it is overdue (empty: a tenth "
                  "of the sampling interval, at least 5 minutes).")
    provider = models.CharField(max_length=8, choices=Provider.choices, default=Provider.MANUAL)
    rule_settings = models.JSONField(
        default=dict, blank=True,
        help_text='Only what differs from the defaults, by rule number, e.g. '
                  '{"2": {"enabled": false}, "7": {"requires_ack": false, "severity": "INFO"}}.',
    )
    trial_min_subgroups = models.PositiveSmallIntegerField(
        default=20, help_text="Rules are evaluated in the trial phase once this many subgroups exist."
    )
    auto_freeze_after = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Establish limits automatically from the first N subgroups (empty: never).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["node", "name"], name="unique_characteristic_per_node")
        ]

    def __str__(self):
        return self.name

    def clean(self):
        stored = self.rule_settings if isinstance(self.rule_settings, dict) else None
        try:
            if stored is None or not all(k.isdigit() for k in stored):
                raise ValueError("Key the settings by rule number, e.g. {\"2\": {...}}.")
            validate([{"rule": int(k), **v} if isinstance(v, dict) else None
                      for k, v in stored.items()])
        except ValueError as exc:
            raise ValidationError({"rule_settings": str(exc)}) from None

    @property
    def is_attribute(self) -> bool:
        return self.chart_type in ATTRIBUTE_CHARTS


class LimitSource(models.TextChoices):
    CALCULATED = "CALCULATED", "Calculated"
    MANUAL = "MANUAL", "Entered by hand"


class ControlLimits(models.Model):
    """One version of a characteristic's control limits; exactly one version is active.

    Limits for a point are derived from `center`, `sigma` and the point's sample size, so
    varying subgroup sizes get their own limits; `ucl`/`lcl` are those at `subgroup_size`.
    """

    characteristic = models.ForeignKey(
        Characteristic, on_delete=models.CASCADE, related_name="limit_versions"
    )
    version = models.PositiveIntegerField()
    is_active = models.BooleanField(default=True)
    center = models.FloatField()
    ucl = models.FloatField()
    lcl = models.FloatField()
    sigma = models.FloatField(help_text="Process σ estimate (for p/np/c/u: σ of the statistic at n).")
    subgroup_size = models.PositiveSmallIntegerField(default=1)
    secondary_center = models.FloatField(null=True, blank=True)
    secondary_ucl = models.FloatField(null=True, blank=True)
    secondary_lcl = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=12, choices=LimitSource.choices)
    method = models.CharField(max_length=200)
    options = models.JSONField(default=dict, blank=True)
    removed_sample_ids = models.JSONField(default=list, blank=True)
    sample_count = models.PositiveIntegerField(default=0)
    reason = models.TextField()
    effective_from = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = "control limit version"
        ordering = ["characteristic", "-version"]
        # the newest version of a characteristic (read with every sample), first in the index
        indexes = [models.Index(fields=["characteristic", "-effective_from", "-version"],
                                name="limits_newest_first")]
        constraints = [
            models.UniqueConstraint(fields=["characteristic", "version"], name="unique_limit_version"),
            models.UniqueConstraint(
                fields=["characteristic"], condition=models.Q(is_active=True),
                name="one_active_limit_version",
            ),
        ]

    def __str__(self):
        return f"{self.characteristic} limits v{self.version}"


class Source(models.TextChoices):
    MANUAL = "MANUAL", "Manual entry"
    API = "API", "REST API"
    IMPORT = "IMPORT", "File import"
    TAG = "TAG", "Machine tag"


class Sample(models.Model):
    """One subgroup (or one attribute count) with its stored statistics; never deleted."""

    # No index of its own: sample_char_time starts with it (migration 0002).
    characteristic = models.ForeignKey(
        Characteristic, on_delete=models.PROTECT, related_name="samples", db_index=False
    )
    timestamp = models.DateTimeField()
    n = models.PositiveIntegerField(help_text="Number of values, or the inspected sample size.")
    mean = models.FloatField(null=True, blank=True)
    range = models.FloatField(null=True, blank=True)
    sd = models.FloatField(null=True, blank=True)
    count = models.PositiveIntegerField(null=True, blank=True, help_text="Defectives or defects.")
    batch = models.CharField(max_length=64, blank=True)
    operator = models.CharField(max_length=64, blank=True)
    comment = models.TextField(blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.MANUAL)
    excluded = models.BooleanField(default=False)
    exclusion_reason = models.TextField(blank=True)
    key = models.CharField(  # noqa: DJ001 - NULL: no key; the unique constraint skips NULLs
        max_length=100, null=True, blank=True,
        help_text="The sender's idempotency key, unique per characteristic: a sample sent again "
                  "with the same key records nothing new.")
    # What the evaluation carries from one point to the next (spc.judging), so that a new point
    # costs the same at any history: its position among the kept samples of its stage, the EWMA
    # and CUSUM statistics, and in the trial stage the running sums of the trial fit. Null where
    # the chart carries nothing (an established Shewhart chart) and on excluded samples.
    stage_index = models.PositiveIntegerField(null=True, blank=True)
    ewma = models.FloatField(null=True, blank=True)
    cusum_upper = models.FloatField(null=True, blank=True)
    cusum_lower = models.FloatField(null=True, blank=True)
    cusum_upper_run = models.PositiveIntegerField(null=True, blank=True)
    cusum_lower_run = models.PositiveIntegerField(null=True, blank=True)
    fit_center_sum = models.FloatField(null=True, blank=True)
    fit_center_weight = models.FloatField(null=True, blank=True)
    fit_sigma_sum = models.FloatField(null=True, blank=True)
    fit_sigma_weight = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["timestamp", "id"]
        indexes = [
            # Covering: chart, window and fit reads become index-only scans instead of one
            # random table page per point. SQLite has no INCLUDE; migration 0002 makes the
            # included columns trailing keys there.
            models.Index(
                fields=["characteristic", "timestamp", "id"], name="sample_char_time",
                include=["n", "mean", "range", "sd", "count", "excluded"],
            )
        ]
        constraints = [
            models.UniqueConstraint(fields=["characteristic", "key"],
                                    condition=models.Q(key__isnull=False),
                                    name="unique_sample_key"),
        ]

    def __str__(self):
        return f"{self.characteristic} @ {self.timestamp:%Y-%m-%d %H:%M:%S}"


class Measurement(models.Model):
    """One measured value of a variables sample, in the order it was given."""

    # no index of its own: the unique (sample, position) index starts with it (spc 0003)
    sample = models.ForeignKey(Sample, on_delete=models.PROTECT, related_name="measurements",
                               db_index=False)
    position = models.PositiveSmallIntegerField()
    value = models.FloatField()

    class Meta:
        ordering = ["sample", "position"]
        constraints = [
            models.UniqueConstraint(fields=["sample", "position"], name="unique_measurement_position")
        ]

    def __str__(self):
        return f"{self.value} (#{self.position + 1} of sample {self.sample_id})"


class SampleEdit(models.Model):
    """Audit trail of a sample: who changed what, when and why, with before and after."""

    class Kind(models.TextChoices):
        EDIT = "EDIT", "Values corrected"
        EXCLUDE = "EXCLUDE", "Excluded"
        RESTORE = "RESTORE", "Restored"

    sample = models.ForeignKey(Sample, on_delete=models.PROTECT, related_name="edits")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    reason = models.TextField()
    before = models.JSONField()
    after = models.JSONField()
    edited_at = models.DateTimeField(auto_now_add=True)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["sample", "edited_at"]

    def __str__(self):
        return f"{self.get_kind_display()}: sample {self.sample_id}"


class KeptAnnotations(models.Manager):
    """Annotations that are not deleted (deleted ones stay, with their history)."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class Annotation(models.Model):
    """A note on the chart: at one sample (a marker) or over a period (a shaded span). Edits and
    deletion are kept in its history (AnnotationEdit); a deleted note is hidden, not removed."""

    characteristic = models.ForeignKey(
        Characteristic, on_delete=models.PROTECT, related_name="annotations"
    )
    sample = models.ForeignKey(
        Sample, null=True, blank=True, on_delete=models.PROTECT, related_name="annotations",
        help_text="The annotated point; empty for a period.",
    )
    start = models.DateTimeField(null=True, blank=True, help_text="A period's start.")
    end = models.DateTimeField(null=True, blank=True, help_text="A period's end.")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    deleted_at = models.DateTimeField(null=True, blank=True)

    everything = models.Manager()
    objects = KeptAnnotations()

    class Meta:
        base_manager_name = "everything"
        default_manager_name = "objects"
        ordering = ["characteristic", "created_at"]
        indexes = [models.Index(fields=["characteristic", "start"], name="annotation_char_start")]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(sample__isnull=False, start__isnull=True, end__isnull=True)
                           | models.Q(sample__isnull=True, start__isnull=False,
                                      end__isnull=False, end__gte=models.F("start"))),
                name="annotation_point_or_period",
            ),
        ]

    def __str__(self):
        return self.text[:60]

    @property
    def is_period(self) -> bool:
        return self.sample_id is None


class AnnotationEdit(models.Model):
    """A change to a note: who, when, and its text and period before and after."""

    class Kind(models.TextChoices):
        EDIT = "EDIT", "Edited"
        DELETE = "DELETE", "Deleted"

    annotation = models.ForeignKey(Annotation, on_delete=models.PROTECT, related_name="edits")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    before = models.JSONField()
    after = models.JSONField()
    edited_at = models.DateTimeField(auto_now_add=True)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["annotation", "edited_at", "id"]

    def __str__(self):
        return f"{self.get_kind_display()}: note {self.annotation_id}"


# The result of evaluation: a rule firing at a sample, with its acknowledgment (the workflow,
# notifications and live delivery belong to the alerts app), and the plant's reason codes.


class ReasonCode(models.Model):
    """A managed reason for an out-of-control event ("Tool change", "Raw material", …)."""

    plant = models.ForeignKey(Plant, on_delete=models.CASCADE, related_name="reason_codes")
    name = models.CharField(max_length=80)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["plant", "name"], name="unique_reason_code_per_plant")
        ]

    def __str__(self):
        return self.name


DEFAULT_REASON_CODES = [
    "Tool change", "Tool wear", "Raw material", "Measurement error", "Machine adjustment",
    "New operator", "Maintenance", "Environmental", "False alarm", "Other",
]


class Violation(models.Model):
    """A rule firing at one sample. Re-evaluation supersedes violations; it never deletes them."""

    plant = models.ForeignKey(Plant, on_delete=models.PROTECT, related_name="violations")
    characteristic = models.ForeignKey(
        Characteristic, on_delete=models.PROTECT, related_name="violations"
    )
    sample = models.ForeignKey(Sample, on_delete=models.PROTECT, related_name="violations")
    class Chart(models.TextChoices):
        PRIMARY = "primary", "Primary chart (X̄, I, p, …)"
        SECONDARY = "secondary", "Secondary chart (R, S, MR)"

    rule = models.PositiveSmallIntegerField()
    chart = models.CharField(max_length=9, choices=Chart.choices, default=Chart.PRIMARY)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    points = models.JSONField(help_text="Ids of the samples that make up the pattern.")
    requires_ack = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason_code = models.ForeignKey(ReasonCode, null=True, blank=True, on_delete=models.PROTECT)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["characteristic", "sample"], name="violation_char_sample"),
            models.Index(fields=["plant", "acknowledged_at"], name="violation_plant_ack"),
        ]
        constraints = [
            # one live violation per sample, rule and chart, whatever writers race
            models.UniqueConstraint(fields=["sample", "rule", "chart"],
                                    condition=models.Q(superseded_at__isnull=True),
                                    name="one_live_violation"),
        ]

    def __str__(self):
        return f"Rule {self.rule} at {self.sample}"
