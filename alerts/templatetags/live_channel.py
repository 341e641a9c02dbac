"""Template helpers of the live channel (templates/includes/live.html)."""

import time

from django import template

from alerts.live.log import cached_last_event_id

register = template.Library()


@register.simple_tag
def live_since() -> int:
    """The bookmark of a page rendered now, as the cache knows it (no query on every page):
    -1 when it does not — the page then re-reads what it shows once it is connected."""
    last = cached_last_event_id()
    return -1 if last is None else last


@register.simple_tag
def live_at() -> str:
    """Now, as the server's Unix time: up to when the page knows what it shows."""
    return f"{time.time():.3f}"


@register.filter
def has_live_socket(request) -> bool:
    """Whether the server that renders this page also serves ws/live/. The product's server
    (uvicorn or daphne, openspc.asgi) does; a bare WSGI server built on wsgiref — Django's
    runserver and the test live server — does not, and a page it serves opens no socket (each
    attempt would end as a console error)."""
    meta = getattr(request, "META", {})
    return not meta.get("SERVER_SOFTWARE", "").startswith("WSGIServer/")
