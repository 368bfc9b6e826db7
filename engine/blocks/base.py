"""What a block kind can do in the engine: set-based handlers, with do-nothing defaults.

Every handler takes a whole batch (rows of one block of one version, or the events
of a batch of users) and answers with outcomes (branch, step detail) per enrollment,
or moves the rows itself through engine.runner's moves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine import loaders
    from engine.models import Event
    from engine.runner import Outcome, Row

# An arrival that only starts a wait: the node_state and wake_at written on arrival.
Settled = dict[str, Any]


@dataclass(frozen=True)
class UniformWake:
    """Every user whose timer comes due leaves alike, so the wake is one set-based move
    (engine.runner.wake_all, the same SQL on both databases): on ``branch``, with the
    step detail ``detail`` plus, per user, ``from_context`` (detail key -> key of the
    enrollment's context)."""

    branch: str | None
    detail: Mapping[str, Any]
    from_context: Mapping[str, str] = field(default_factory=dict)


class Handler:
    """Engine behaviour of a block kind. The defaults: arrival needs no work (raises),
    nothing wakes, events do nothing, no daily run, no entry behaviour."""

    # Whether a block of this kind waits on a profile date (profile updates move it).
    reads_profile_dates = False

    # --- users inside a journey -----------------------------------------------------------

    def settle(self, block: Any, now: datetime) -> Settled | None:
        """What arriving sets when arriving only starts a wait; None when arrival needs work."""
        return None

    def arrive(
        self, version: loaders.Version, node: str, rows: Sequence[Row], now: datetime
    ) -> dict[str, list[int]]:
        """Users arrived and the block needs work now; returns the arrivals that follow."""
        block = version.definition.node(node)
        raise ValueError(f"Block type {block.type!r} cannot be inside a journey")

    def uniform_wake(self, block: Any) -> UniformWake | None:
        """How users whose timer came due leave, when they all leave alike (one set-based
        move); None when each one's outcome is decided apart (``wake``)."""
        return None

    def wake(self, block: Any, rows: Sequence[Row]) -> dict[int, Outcome] | None:
        """Outcomes of users whose timer came due, for a kind without ``uniform_wake``
        (None: timers mean nothing here). Never both: a move has one implementation."""
        return None

    def on_events(self, block: Any, waiting: Mapping[int, Sequence[Event]]) -> dict[int, Outcome]:
        """Users waiting here did these events since they arrived (enrollment -> events,
        in time order): the outcomes of those the events decide."""
        return {}

    def daily(self, version: loaders.Version, node: str, block: Any, now: datetime) -> int:
        """The project's 12:00 am run over the users waiting here; returns users evaluated."""
        return 0

    def profiles_changed(
        self, block: Any, rows: Sequence[tuple[int, int, dict[str, Any]]], now: datetime
    ) -> None:
        """Waiting users' profiles changed: (enrollment, profile, context) rows, locked."""

    # --- the entry ------------------------------------------------------------------------

    def index_entry(self, index: loaders.TriggerIndex, live: loaders.LiveJourney) -> None:
        """File a live journey whose entry is of this kind in the project's trigger index."""

    def enter_on_events(
        self, live: loaders.LiveJourney, events: Sequence[Event], now: datetime
    ) -> list[int]:
        """A batch of events that may start stays; returns the new enrollment ids."""
        return []

    def after_entries(
        self, live: loaders.LiveJourney, events: Sequence[Event], now: datetime
    ) -> None:
        """Events acting on this entry once the batch's entries exist (cancellations)."""

    def entry_profiles_changed(
        self, live: loaders.LiveJourney, profile_ids: Sequence[int] | None, now: datetime
    ) -> None:
        """Profiles changed (None: every profile, as the journey goes live)."""

    def went_live(
        self, live: loaders.LiveJourney, next_entry_check_at: datetime | None, now: datetime
    ) -> None:
        """The journey started taking entries."""

    def entry_check(self, live: loaders.LiveJourney, now: datetime) -> int:
        """The scheduled evaluation of the entry over every profile; returns users entered."""
        return 0


class Decide(Handler):
    """A kind whose decision on arrival is a pure function of (block, journey, profile)."""

    def __init__(self, decide: Any) -> None:
        self.decide = decide

    def arrive(
        self, version: loaders.Version, node: str, rows: Sequence[Row], now: datetime
    ) -> dict[str, list[int]]:
        from engine import runner

        block = version.definition.node(node)
        outcomes = {r.id: self.decide(block, r.journey_id, r.profile_id) for r in rows}
        return runner.leave(version, rows, outcomes, now)


class EventWait(Handler):
    """A segment block that waits for a matching event: ``yes`` on one, ``no`` when its
    ``within`` runs out; as the entry, a matching event enters the user."""

    # Event name that can satisfy the block (None: the block's own ``event``).
    event_name: str | None = None

    def matching(self, block: Any, events: Sequence[Event]) -> list[tuple[Event, dict[str, Any]]]:
        """Events that satisfy the block, with what the block saw, in the given order."""
        raise NotImplementedError

    def settle(self, block: Any, now: datetime) -> Settled | None:
        from datetime import timedelta

        wake_at = now + timedelta(seconds=block.within) if block.within else None
        return {"node_state": "waiting", "wake_at": wake_at}

    def uniform_wake(self, block: Any) -> UniformWake | None:
        return UniformWake("no", {"within_seconds": block.within, "happened": False})

    def on_events(self, block: Any, waiting: Mapping[int, Sequence[Event]]) -> dict[int, Outcome]:
        out: dict[int, Outcome] = {}
        for enrollment_id, (event, saw) in self.first_matches(block, waiting).items():
            out[enrollment_id] = ("yes", {**saw, "event_id": event.id})
        return out

    def first_matches(
        self, block: Any, waiting: Mapping[int, Sequence[Event]]
    ) -> dict[int, tuple[Event, dict[str, Any]]]:
        out: dict[int, tuple[Event, dict[str, Any]]] = {}
        for enrollment_id, events in waiting.items():
            matches = self.matching(block, events)
            if matches:
                out[enrollment_id] = matches[0]
        return out

    def index_entry(self, index: loaders.TriggerIndex, live: loaders.LiveJourney) -> None:
        name = self.event_name or live.entry.event
        index.entries_by_event.setdefault(name, []).append(live)

    def enter_on_events(
        self, live: loaders.LiveJourney, events: Sequence[Event], now: datetime
    ) -> list[int]:
        from engine import entries

        triggers: dict[int, int | None] = {}
        detail: dict[int, dict[str, Any]] = {}
        for event, saw in self.matching(live.entry, events):
            if event.profile_id not in triggers:
                triggers[event.profile_id] = event.id
                detail[event.profile_id] = saw
        return entries.enroll(live, triggers, now, detail=detail)
