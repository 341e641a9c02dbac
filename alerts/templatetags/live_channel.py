"""Template helpers of the live channel (templates/includes/live.html)."""

from django import template

from alerts.live import last_event_id

register = template.Library()


@register.simple_tag
def live_since() -> int:
    """The bookmark of a page rendered now."""
    return last_event_id()


@register.filter
def has_live_socket(request) -> bool:
    """Whether the server that renders this page also serves ws/live/. The product's server
    (uvicorn or daphne, openspc.asgi) does; a bare WSGI server built on wsgiref — Django's
    runserver and the test live server — does not, and a page it serves opens no socket (each
    attempt would end as a console error)."""
    meta = getattr(request, "META", {})
    return not meta.get("SERVER_SOFTWARE", "").startswith("WSGIServer/")
