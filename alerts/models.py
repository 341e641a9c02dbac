"""Violations of the Nelson rules, their acknowledgment, and each plant's reason codes."""

from django.conf import settings
from django.db import models

from plants.models import Plant
from spc.models import Characteristic, Sample, Severity


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
