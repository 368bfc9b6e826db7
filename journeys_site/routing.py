"""Websocket URL routes; each app contributes its consumers here."""

from django.urls import URLPattern, URLResolver, path

from engine.consumers import InAppConsumer
from stats.routing import websocket_urlpatterns as stats_websockets

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    *stats_websockets,
    # The web SDK's in-app messages (engine/consumers.py); key auth, any origin.
    path("ws/sdk/in-app/", InAppConsumer.as_asgi()),
]
