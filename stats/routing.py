"""Websocket routes of the stats app: the live occupancy overlay."""

from __future__ import annotations

from django.urls import path

from stats.consumers import OccupancyConsumer
from stats.ws_auth import TokenAuthMiddleware

websocket_urlpatterns = [
    path("ws/journeys/<int:journey_id>/", TokenAuthMiddleware(OccupancyConsumer.as_asgi())),
]
