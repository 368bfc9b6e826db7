"""Websocket URL routes; each app contributes its consumers here."""

from django.urls import URLPattern, URLResolver

from stats.routing import websocket_urlpatterns as stats_websockets

websocket_urlpatterns: list[URLPattern | URLResolver] = [*stats_websockets]
