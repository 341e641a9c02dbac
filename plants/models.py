from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from plants.roles import CUSTOM_PERMISSIONS, Role


class Plant(models.Model):
    """A site or facility. Every operational row belongs to exactly one plant."""

    name = models.CharField(max_length=120, unique=True)
    code = models.CharField(
        max_length=16,
        unique=True,
        validators=[
            RegexValidator(
                r"^[A-Z0-9][A-Z0-9_-]*$",
                "Use capital letters, digits, '-' and '_' (for example HAM-01).",
            )
        ],
        help_text="Short code used in URLs and MQTT topics, e.g. HAM-01.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = CUSTOM_PERMISSIONS

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.code = (self.code or "").upper()
        super().save(*args, **kwargs)


class PlantGroupObjectPermission(GroupObjectPermissionBase):
    """guardian's direct-foreign-key table: role grants on a Plant, joinable without casts."""

    content_object = models.ForeignKey(Plant, on_delete=models.CASCADE)


class PlantUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Plant, on_delete=models.CASCADE)


class Membership(models.Model):
    """A user's role at one plant. Saving it places the user in that plant's role group."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="plant_memberships"
    )
    plant = models.ForeignKey(Plant, on_delete=models.CASCADE, related_name="memberships")
    role = models.PositiveSmallIntegerField(choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "plant"], name="one_role_per_user_and_plant")
        ]
        ordering = ["plant__name"]

    def __str__(self):
        return f"{self.user} — {self.get_role_display()} at {self.plant}"


class Level(models.IntegerChoices):
    """ISA-95 equipment hierarchy levels, from the top."""

    ENTERPRISE = 1, "Enterprise"
    SITE = 2, "Site"
    AREA = 3, "Area"
    LINE = 4, "Line"
    CELL = 5, "Cell"
    UNIT = 6, "Unit / Equipment"


class Node(models.Model):
    """A node of a plant's ISA-95 hierarchy. A child sits at a lower level than its parent."""

    plant = models.ForeignKey(Plant, on_delete=models.PROTECT, related_name="nodes")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    name = models.CharField(max_length=120)
    level = models.PositiveSmallIntegerField(choices=Level.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["plant", "parent", "name"], name="unique_sibling_name"
            ),
            models.UniqueConstraint(
                fields=["plant", "name"],
                condition=models.Q(parent__isnull=True),
                name="unique_root_name",
            ),
        ]
        indexes = [models.Index(fields=["plant", "parent"])]

    def __str__(self):
        return self.name

    def clean(self):
        if self.parent_id is None:
            return
        parent = self.parent
        if parent.plant_id != self.plant_id:
            raise ValidationError({"parent": "The parent belongs to another plant."})
        if self.level is not None and self.level <= parent.level:
            raise ValidationError(
                {
                    "level": f"A {self.get_level_display()} cannot sit under the "
                    f"{parent.get_level_display()} '{parent.name}': a child must be at a "
                    "lower level than its parent."
                }
            )


class KioskLink(models.Model):
    """A read-only link for a wall display: one node's live charts, without a login.

    The secret is in the link's URL; only its SHA-256 is kept, so the link is shown once when
    it is issued. Revoking it stops the page and its live updates at their next request or
    event."""

    plant = models.ForeignKey(Plant, on_delete=models.PROTECT, related_name="kiosk_links")
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="kiosk_links")
    label = models.CharField(max_length=120, help_text="Where the screen is, e.g. 'Line 1 wall'.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=8, editable=False,
                            help_text="The secret's first characters, to tell links apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                                   related_name="+", editable=False)
    last_seen_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plant", "label"]
        verbose_name = "kiosk link"

    def __str__(self):
        return f"{self.label} ({self.node})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
