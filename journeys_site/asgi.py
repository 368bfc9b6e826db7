"""ASGI entry point served by daphne: HTTP through Django, websockets through Channels."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeys_site.settings")
# A connection pool per web process (journeys_site/settings.py says why); only here:
# workers, tests and management commands keep Django's connection per thread, and the
# processes this one starts decide for themselves.
_POOL = "JOURNEYS_DB_POOL" not in os.environ
if _POOL:
    os.environ["JOURNEYS_DB_POOL"] = "1"
django_asgi_app = get_asgi_application()
if _POOL:
    del os.environ["JOURNEYS_DB_POOL"]

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from journeys_site.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
    }
)

# What is loaded by now lives as long as the process: keep it out of the cyclic collector's
# full passes, which otherwise walk all of it every few 1,000-event ingest requests
# (about 15 ms each; docs/performance.md "Ingest").
gc.freeze()
