"""Celery tasks of spc: thin, taking ids, safe to run twice."""

import logging

from celery import shared_task
from django.contrib.auth import get_user_model

from spc import limit_versions
from spc.models import Characteristic

log = logging.getLogger(__name__)


@shared_task
def recalculate_limits(characteristic_id: int, user_id: int | None, reason: str,
                       **selection) -> int | None:
    """Recalculate a characteristic's limits in the background; returns the new version's id.

    `selection`: first_n, last_n, start, end (ISO strings are accepted), exclude_ooc. A
    characteristic that no longer exists is logged and skipped; invalid selections are logged.
    """
    ch = Characteristic.objects.filter(pk=characteristic_id).first()
    if ch is None:
        log.warning("recalculate_limits: characteristic %s does not exist", characteristic_id)
        return None
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    try:
        return limit_versions.recalculate(ch, user, reason, **selection).pk
    except limit_versions.LimitsInvalid as exc:
        log.warning("recalculate_limits: %s: %s", ch, exc)
        return None
