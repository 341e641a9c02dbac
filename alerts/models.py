"""Violations are the result of evaluation and live in spc.models with the plant's reason codes;
alerts owns acknowledgment, notification and live delivery of them. Its one table is the log of
what the live channel sent, so that a page that reconnects gets what it missed."""

from django.db import models
from django.utils import timezone


class LiveEvent(models.Model):
    """One message of the live channel, as sent to one group: every page of a plant
    (`live.plant.<id>`) or the pages of one characteristic (`live.char.<id>`).

    The id orders the messages of a plant (alerts.live.delivery sends them in id order) and is
    the page's bookmark: a page that reconnects asks for the events after the last id it saw.
    The log keeps a contiguous tail of ids (alerts.live.log.prune never leaves a hole), so a
    bookmark older than its first row means events were pruned and the page starts afresh."""

    id = models.BigAutoField(primary_key=True)
    plant = models.ForeignKey("plants.Plant", on_delete=models.CASCADE, related_name="+")
    group = models.CharField(max_length=64)
    kind = models.CharField(max_length=16)
    payload = models.JSONField(help_text="The message without its id.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["group", "id"], name="liveevent_group_id"),
            models.Index(fields=["created_at"], name="liveevent_created"),
        ]

    def __str__(self):
        return f"{self.kind} #{self.pk}"
