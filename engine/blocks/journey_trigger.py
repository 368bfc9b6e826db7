"""Journey Trigger in the engine (entry only): filed by the block of the journey it follows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Handler

if TYPE_CHECKING:
    from engine import loaders


class JourneyTrigger(Handler):
    def index_entry(self, index: loaders.TriggerIndex, live: loaders.LiveJourney) -> None:
        entry = live.entry
        index.journey_triggers.setdefault((str(entry.journey), entry.node), []).append(live)


HANDLERS = {"journey_trigger": JourneyTrigger()}
