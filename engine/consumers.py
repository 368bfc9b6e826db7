"""The web SDK's in-app websocket: a page listens for its profile's in-app messages.

``/ws/sdk/in-app/?key=<sdk_key>&profile_id=<id>[&user_hash=<hex>]``. On connect the page
is sent the profile's unexpired messages not yet viewed (queued while it was away),
then every new one within about a second. It sends back ``{"type": "viewed" | "clicked"
| "dismissed", "id": <message id>}`` and gets ``{"type": "ack", "id", "action"}``.

New messages are found by polling, like the occupancy overlay: the engine stores them
in other processes, and the embedded default has no channel layer that crosses
processes. One query per tick per web process reads the new in-app messages of every
profile with an open page, whatever the number of sockets; with Redis it works the same.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from engine import in_app

logger = logging.getLogger(__name__)

INTERVAL = 0.5  # seconds between polls: a stored message reaches an open page within ~1 s

Send = Callable[[dict[str, Any]], Awaitable[None]]


class Poller:
    """The open pages of one event loop (one web process) and the loop polling for them."""

    def __init__(self) -> None:
        self._pages: dict[in_app.Listener, list[Send]] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, listener: in_app.Listener, send: Send) -> None:
        self._pages.setdefault(listener, []).append(send)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def remove(self, listener: in_app.Listener, send: Send) -> None:
        sends = self._pages.get(listener, [])
        if send in sends:
            sends.remove(send)
        if not sends:
            self._pages.pop(listener, None)
        if not self._pages and self._task is not None:
            if self._task is not asyncio.current_task():
                self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while self._pages:
            await asyncio.sleep(INTERVAL)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end in-app delivery for everyone
                logger.exception("in-app poll failed")

    async def tick(self) -> None:
        listeners = list(self._pages)
        if not listeners:
            return
        found = await database_sync_to_async(in_app.messages_hand_over)(listeners)
        for listener, payloads in found.items():
            for send in list(self._pages.get(listener, ())):
                for item in payloads:
                    try:
                        await send(item)
                    except Exception:
                        logger.exception("in-app push to a socket failed")


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Poller] = weakref.WeakKeyDictionary()


def poller() -> Poller:
    loop = asyncio.get_running_loop()
    found = _by_loop.get(loop)
    if found is None:
        found = _by_loop[loop] = Poller()
    return found


class InAppConsumer(AsyncJsonWebsocketConsumer):
    """One page of the customer's site listening for one profile's in-app messages."""

    # Messages come from the poller, not the channel layer: open no channel.
    channel_layer_alias = "-no-channel-layer-"

    listener: in_app.Listener | None = None

    async def connect(self) -> None:
        # Accept first: a refused handshake reaches a browser as a bare 1006, a close code
        # after accepting says why (4400 bad request, 4401 unknown key, 4403 user_hash).
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode("utf-8", "replace"))

        def first(name: str) -> str:
            return (query.get(name) or [""])[0]

        try:
            listener = await database_sync_to_async(in_app.listener_authenticate)(
                key=first("key"), profile_id=first("profile_id"), user_hash=first("user_hash")
            )
        except in_app.Refused as exc:
            await self.send_json({"type": "error", "code": exc.code, "message": exc.reason})
            await self.close(code=exc.code)
            return
        self.listener = listener
        # Queued while the visitor was away, and handed to a page that closed unviewed.
        found = await database_sync_to_async(in_app.messages_hand_over)(
            [listener], statuses=in_app.SHOWABLE
        )
        for item in found.get(listener, []):
            await self.send_json(item)
        poller().add(listener, self.send_json)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if self.listener is None or not isinstance(content, dict):
            return
        action = content.get("type")
        message_id = content.get("id")
        if (
            action not in in_app.REPORT_FROM
            or not isinstance(message_id, int)
            or isinstance(message_id, bool)
        ):
            await self.send_json({"type": "error", "message": "expected {type, id}"})
            return
        done = await database_sync_to_async(in_app.message_report)(
            listener=self.listener, message_id=message_id, action=action
        )
        await self.send_json({"type": "ack", "id": message_id, "action": action, "ok": done})

    async def disconnect(self, code: int) -> None:
        if self.listener is not None:
            poller().remove(self.listener, self.send_json)
            self.listener = None
