"""The live overlay's websocket: a journey's occupancy now, then every time it changes."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.auth.models import AnonymousUser, User

from builder.selectors import journey_get_for_user
from engine.selectors import NotFound
from stats import broadcast, selectors

__all__ = ["CLOSE_NOT_FOUND", "CLOSE_UNAUTHENTICATED", "OccupancyConsumer"]

# Close codes the page can read (sent after accepting: a refused handshake reaches a
# browser as a bare 1006). The HTTP API answers 401 and 404 for the same cases.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


def _first_reading(
    user: User | AnonymousUser, journey_id: int
) -> tuple[dict[str, Any], tuple[broadcast.ShapeKey, selectors.JourneyShape]]:
    """The occupancy as ``GET .../occupancy`` answers it (NotFound unless a member)."""
    journey = journey_get_for_user(user=user, journey_id=journey_id)
    shape = selectors.journey_shape(journey)
    occupancy = selectors.journey_occupancy(journey=journey, shape=shape)
    return broadcast.occupancy_message(occupancy), (broadcast.shape_key(journey), shape)


class OccupancyConsumer(AsyncJsonWebsocketConsumer):
    """``/ws/journeys/<id>/``: sends ``{"type": "occupancy", "nodes", "total"}`` on connect
    and whenever the figures change; members of the journey's project only."""

    # Updates come from this process's broadcaster, not the channel layer: open no channel
    # (with Redis that would be one subscription per socket for nothing).
    channel_layer_alias = "-no-channel-layer-"

    subscription: broadcast.Subscription | None = None

    async def connect(self) -> None:
        await self.accept()
        user = self.scope.get("user") or AnonymousUser()
        if not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        journey_id = int(self.scope["url_route"]["kwargs"]["journey_id"])
        try:
            message, shape = await database_sync_to_async(_first_reading)(user, journey_id)
        except NotFound:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.send_json(message)
        self.subscription = broadcast.broadcaster().subscribe(
            journey_id, self.send_json, self._journey_gone, sent=message, shape=shape
        )

    async def _journey_gone(self) -> None:
        self.subscription = None
        await self.close(code=CLOSE_NOT_FOUND)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The overlay only listens; whatever a client sends is ignored."""

    async def disconnect(self, code: int) -> None:
        if self.subscription is not None:
            broadcast.broadcaster().unsubscribe(self.subscription)
            self.subscription = None
