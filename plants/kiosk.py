"""Kiosk links: read-only access to one node's live charts for screens nobody logs into.

`issue` makes a link and returns its secret once (only its hash is stored); `verify` finds the
active link a secret opens for a plant (and node), recording when it was last used; `revoke`
ends it. The kiosk page and the live channel both ask `verify`, on every request and event."""

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from plants.models import KioskLink, Node

SEEN_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def issue(node: Node, label: str, by=None) -> tuple[KioskLink, str]:
    token = secrets.token_urlsafe(24)
    link = KioskLink.objects.create(plant=node.plant, node=node, label=label.strip(),
                                    token_hash=_hash(token), hint=token[:6], created_by=by)
    return link, token


def path_for(link: KioskLink, token: str) -> str:
    """The kiosk page's path with the secret, e.g. /p/DEMO/kiosk/7/?key=…"""
    return reverse("kiosk", args=[link.plant.code, link.node_id]) + f"?key={token}"


def verify(token: str | None, plant_id: int, node_id: int | None = None) -> KioskLink | None:
    """The active link `token` opens at this plant (and node), or None."""
    if not token or len(token) > 100:
        return None
    link = KioskLink.objects.filter(token_hash=_hash(token), revoked_at__isnull=True,
                                    plant_id=plant_id).first()
    if link is None or (node_id is not None and link.node_id != node_id):
        return None
    now = timezone.now()
    if link.last_seen_at is None or now - link.last_seen_at > SEEN_EVERY:
        KioskLink.objects.filter(pk=link.pk).update(last_seen_at=now)
    return link


def revoke(link: KioskLink) -> None:
    KioskLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
