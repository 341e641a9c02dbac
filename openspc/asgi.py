"""The ASGI application: HTTP through Django's WSGI handler on a fixed thread pool,
WebSockets through Channels.

Django's own ASGI handler runs every request in a fresh thread-sensitive context: asgiref
starts a thread per request (and Django opens a new database connection on it), and each
sync/async boundary in the middleware chain costs another hop. All our views are synchronous
(the ORM is), so HTTP goes to the WSGI handler on `OPENSPC_WEB_THREADS` long-lived threads
(openspc.wsgi_bridge): each keeps its database connection, and a request costs one hop to its
thread and one back. Measured on `GET /health` under uvicorn: 7.8 → 0.8 ms per request
(docs/performance.md).

The lifespan scope starts the demo simulator with the server and stops it with the server
(when OPENSPC_SIMULATOR is on). uvicorn sends it unless run with `--lifespan off`; daphne never
does, so under daphne the simulator does not run.
"""

import asyncio
import logging
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openspc.settings")

from django.conf import settings  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

django_wsgi_app = get_wsgi_application()  # sets Django up before the imports below

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from openspc.routing import websocket_urlpatterns  # noqa: E402
from openspc.wsgi_bridge import WSGIBridge  # noqa: E402
from spc import simulator  # noqa: E402

log = logging.getLogger(__name__)


async def lifespan(scope, receive, send):
    """ASGI lifespan: the simulator starts with the server and stops with it. A simulator that
    cannot start is logged and never keeps the server from serving."""
    running = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                running = simulator.start_from_settings()
            except Exception:
                log.exception("The demo simulator could not start")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if running is not None:
                await asyncio.to_thread(running.stop)  # joins its thread: off the event loop
            await send({"type": "lifespan.shutdown.complete"})
            return


application = ProtocolTypeRouter(
    {
        "http": WSGIBridge(django_wsgi_app, threads=settings.WEB_THREADS,
                           max_body=settings.MAX_REQUEST_BYTES, queue=settings.WEB_QUEUE,
                           body_timeout=settings.REQUEST_BODY_TIMEOUT_S),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
        "lifespan": lifespan,
    }
)
