"""Action in the engine: waits for (or enters on) an event matching name and filters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engine.domain import all_match

from .base import EventWait

if TYPE_CHECKING:
    from engine.models import Event


class Action(EventWait):
    def matching(self, block: Any, events: Sequence[Event]) -> list[tuple[Event, dict[str, Any]]]:
        return [
            (e, {"event": e.name, "properties": e.properties})
            for e in events
            if e.name == block.event and all_match(block.where, e.properties or {})
        ]


HANDLERS = {"action": Action()}
