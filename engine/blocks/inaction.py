"""Inaction in the engine: yes when the quiet period passes, no on the event; entry by candidates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.domain import all_match

from .base import Handler, Settled, UniformWake

if TYPE_CHECKING:
    from engine import loaders
    from engine.models import Event
    from engine.runner import Outcome


class Inaction(Handler):
    def settle(self, block: Any, now: datetime) -> Settled | None:
        return {"node_state": "waiting", "wake_at": now + timedelta(seconds=block.within)}

    def uniform_wake(self, block: Any) -> UniformWake | None:
        return UniformWake(
            "yes", {"not_event": block.not_event, "within_seconds": block.within, "happened": False}
        )

    def on_events(self, block: Any, waiting: Mapping[int, Sequence[Event]]) -> dict[int, Outcome]:
        out: dict[int, Outcome] = {}
        for enrollment_id, events in waiting.items():
            hit = next(
                (
                    e
                    for e in events
                    if e.name == block.not_event and all_match(block.not_where, e.properties or {})
                ),
                None,
            )
            if hit is not None:
                out[enrollment_id] = (
                    "no",
                    {"not_event": block.not_event, "happened": True, "event_id": hit.id},
                )
        return out

    # --- the entry: a candidate per first event, entering when the quiet period passes ---

    def index_entry(self, index: loaders.TriggerIndex, live: loaders.LiveJourney) -> None:
        entry = live.entry
        index.entries_by_event.setdefault(entry.event, []).append(live)
        index.inaction_cancels.setdefault(entry.not_event, []).append(live)

    def enter_on_events(
        self, live: loaders.LiveJourney, events: Sequence[Event], now: datetime
    ) -> list[int]:
        entry = live.entry
        firsts: dict[int, tuple[int, datetime]] = {}
        for e in events:
            if e.name == entry.event and all_match(entry.where, e.properties or {}):
                firsts.setdefault(e.profile_id, (e.id, e.ts))
        inaction_candidates(live, firsts, now)
        return []  # candidates enter later (engine.entries.activate_candidates)

    def after_entries(
        self, live: loaders.LiveJourney, events: Sequence[Event], now: datetime
    ) -> None:
        from engine import entries

        entry = live.entry
        hits = [
            e
            for e in events
            if e.name == entry.not_event and all_match(entry.not_where, e.properties or {})
        ]
        if hits:
            entries.cancel_candidates(
                live.journey_id,
                [e.profile_id for e in hits],
                event_ts={e.profile_id: e.ts for e in hits},
            )


def inaction_candidates(
    live: loaders.LiveJourney, firsts: Mapping[int, tuple[int, datetime]], now: datetime
) -> int:
    """First event seen (profile -> (event id, ts)): enter when ``within`` passes without the other."""
    from engine import entries

    entry = live.entry
    wakes = {
        pid: (
            ts + timedelta(seconds=entry.within),
            event_id,
            {
                "first_event": entry.event,
                "first_event_at": ts.isoformat(),
                "not_event": entry.not_event,
                "within_seconds": entry.within,
            },
        )
        for pid, (event_id, ts) in firsts.items()
    }
    return entries.add_candidates(live, wakes, now)


HANDLERS = {"inaction": Inaction()}
