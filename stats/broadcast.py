"""The live occupancy broadcaster: one polling loop per web process for the overlay sockets.

The engine (Celery workers, the ticker) moves users in other processes, and the embedded
default has no channel layer that crosses processes, so each web process learns about
changes by reading the database: while anyone watches, every ``INTERVAL`` seconds ONE
grouped query counts the active users by block for every watched journey at once, and
each subscriber is sent the figures when they differ from what it was last sent. The cost
is one aggregate query per tick per web process, whatever the number of users or sockets;
nothing is written on the engine's hot path. See docs/stats.md ("Live overlay").
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.db.models import Count, FilteredRelation, Q

from builder.models import Journey
from engine.models import Enrollment
from stats.selectors import JourneyShape, journey_shape

__all__ = [
    "INTERVAL",
    "Broadcaster",
    "ShapeKey",
    "Shapes",
    "Subscription",
    "broadcaster",
    "occupancy_message",
    "read",
    "shape_key",
]

logger = logging.getLogger(__name__)

INTERVAL = 0.5  # seconds between polls; a change reaches the browser well within 2 s

# What the block list of a journey depends on: its live version, and (never published)
# its working draft, which ``revision`` counts the edits of.
ShapeKey = tuple[int | None, int]
Payload = dict[str, Any]
Shapes = dict[int, tuple[ShapeKey, JourneyShape]]


def shape_key(journey: Journey) -> ShapeKey:
    return (journey.live_version_id, journey.revision)


def occupancy_message(occupancy: Mapping[str, Any]) -> Payload:
    """The websocket message for an occupancy (``journey_occupancy``'s shape)."""
    return {"type": "occupancy", "nodes": dict(occupancy["nodes"]), "total": occupancy["total"]}


@dataclass(eq=False)
class Subscription:
    """One socket watching one journey: how to reach it and what it was last sent."""

    journey_id: int
    send: Callable[[Payload], Awaitable[None]]
    gone: Callable[[], Awaitable[None]]
    last: Payload | None = None


class Broadcaster:
    """The subscribers of one event loop (one web process) and the loop polling for them."""

    def __init__(self, interval: float | None = None) -> None:
        self.interval = interval
        self._subs: dict[int, list[Subscription]] = {}
        self._shapes: Shapes = {}
        self._task: asyncio.Task[None] | None = None

    # -- subscribers ------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def journeys(self) -> list[int]:
        return list(self._subs)

    def subscribe(
        self,
        journey_id: int,
        send: Callable[[Payload], Awaitable[None]],
        gone: Callable[[], Awaitable[None]],
        *,
        sent: Payload | None = None,
        shape: tuple[ShapeKey, JourneyShape] | None = None,
    ) -> Subscription:
        """Watch ``journey_id``; ``sent`` is what the socket already has (so it is not sent
        again) and ``shape`` the block list the caller already read (saves the first tick
        from reading it again). Starts the polling loop if it is not running."""
        sub = Subscription(journey_id=journey_id, send=send, gone=gone, last=sent)
        self._subs.setdefault(journey_id, []).append(sub)
        if shape is not None:
            self._shapes[journey_id] = shape
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run())
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop watching; the loop stops with the last subscriber."""
        subs = self._subs.get(sub.journey_id, [])
        if sub in subs:
            subs.remove(sub)
        if not subs:
            self._subs.pop(sub.journey_id, None)
            self._shapes.pop(sub.journey_id, None)
        if not self._subs and self._task is not None:
            if self._task is not asyncio.current_task():
                self._task.cancel()
            self._task = None

    # -- polling ----------------------------------------------------------------------------
    async def _run(self) -> None:
        me = asyncio.current_task()
        while self._subs and self._task is me:
            await asyncio.sleep(INTERVAL if self.interval is None else self.interval)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end the overlay for everyone
                logger.exception("occupancy poll failed")

    async def tick(self) -> None:
        """Read every watched journey once and send each subscriber what changed for it."""
        ids = self.journeys()
        if not ids:
            return
        messages, shapes = await database_sync_to_async(read)(ids, dict(self._shapes))
        for journey_id, shape in shapes.items():
            if journey_id in self._subs:
                self._shapes[journey_id] = shape
        for journey_id in ids:
            message = messages.get(journey_id)
            for sub in list(self._subs.get(journey_id, ())):
                if sub not in self._subs.get(journey_id, ()):
                    continue  # left while an earlier socket was being sent to
                try:
                    if message is None:  # the journey was deleted
                        self.unsubscribe(sub)
                        await sub.gone()
                    elif message != sub.last:
                        sub.last = message
                        await sub.send(message)
                except Exception:
                    logger.exception("occupancy push to a socket failed")


def read(journey_ids: Iterable[int], known: Shapes) -> tuple[dict[int, Payload], Shapes]:
    """The occupancy message of every journey asked that still exists, in ONE grouped query
    (each journey's shape key and its active users by block), and the block lists that had
    to be read again because a key changed (a publish, a draft edit; rare)."""
    rows = (
        Journey.objects.filter(pk__in=list(journey_ids))
        .annotate(
            here=FilteredRelation(
                "enrollments", condition=Q(enrollments__state=Enrollment.State.ACTIVE)
            )
        )
        .order_by()
        .values("pk", "live_version_id", "revision", "here__node")
        .annotate(users=Count("here__node"))  # in the partial index: no table read
        .values_list("pk", "live_version_id", "revision", "here__node", "users")
    )
    counts: dict[int, dict[str, int]] = {}
    keys: dict[int, ShapeKey] = {}
    for journey_id, version_id, revision, node, users in rows:
        keys[journey_id] = (version_id, revision)
        per_node = counts.setdefault(journey_id, {})
        if node is not None:
            per_node[node] = per_node.get(node, 0) + users
    messages: dict[int, Payload] = {}
    fresh: Shapes = {}
    for journey_id, key in keys.items():
        cached = known.get(journey_id)
        if cached is not None and cached[0] == key:
            shape = cached[1]
        else:
            journey = Journey.objects.select_related("live_version").filter(pk=journey_id).first()
            if journey is None:  # deleted between the two reads
                continue
            shape = journey_shape(journey)
            fresh[journey_id] = (shape_key(journey), shape)
        # The same figures as stats.selectors.journey_occupancy: every block of the live
        # version (0 when empty), plus older versions' blocks that still hold users.
        nodes = dict.fromkeys(shape.block_ids, 0)
        for node, users in counts[journey_id].items():
            nodes[node] = nodes.get(node, 0) + users
        messages[journey_id] = occupancy_message({"nodes": nodes, "total": sum(nodes.values())})
    return messages, fresh


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Broadcaster] = (
    weakref.WeakKeyDictionary()
)


def broadcaster() -> Broadcaster:
    """The broadcaster of the running event loop: one per web process under daphne (tests
    that start a loop per test get a fresh one each)."""
    loop = asyncio.get_running_loop()
    found = _by_loop.get(loop)
    if found is None:
        found = _by_loop[loop] = Broadcaster()
    return found
