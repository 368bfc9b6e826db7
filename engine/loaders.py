"""Maps stored rows to domain objects for the engine: parsed versions and the trigger index.

A published version never changes, so its parsed definition is cached per process
forever. The trigger index (which live journey reacts to which event) is cached per
project and rebuilt when a journey of the project changes: a generation number in
the shared cache tells every process (web, workers) that its copy is stale.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.core.cache import cache

from engine.domain import ActionGoal, Definition, PastBehaviourGoal, parse_definition

PAGE_VIEWED = "Page Viewed"


@dataclass(frozen=True)
class Version:
    id: int
    number: int
    journey_id: int
    project_id: int
    definition: Definition

    @property
    def has_goals(self) -> bool:
        return bool(self.definition.goals)

    @property
    def action_goals(self) -> tuple[ActionGoal, ...]:
        return tuple(g for g in self.definition.goals if isinstance(g, ActionGoal))

    @property
    def past_behaviour_goals(self) -> tuple[PastBehaviourGoal, ...]:
        return tuple(g for g in self.definition.goals if isinstance(g, PastBehaviourGoal))


@lru_cache(maxsize=4096)
def version(version_id: int) -> Version:
    from builder.models import JourneyVersion

    row = JourneyVersion.objects.select_related("journey").get(pk=version_id)
    return Version(
        id=row.pk,
        number=row.number,
        journey_id=row.journey_id,
        project_id=row.journey.project_id,
        definition=parse_definition(row.definition),
    )


@dataclass(frozen=True)
class LiveJourney:
    """A journey that takes entries now (live, within its end time) at its live version."""

    journey_id: int
    status: str
    end_at: datetime | None
    version: Version

    @property
    def entry(self) -> Any:
        return self.version.definition.entry

    def takes_entries(self, now: datetime) -> bool:
        return self.status == "live" and (self.end_at is None or now < self.end_at)


@dataclass
class TriggerIndex:
    """Which live journey of a project reacts to what."""

    generation: int
    journeys: dict[int, LiveJourney] = field(default_factory=dict)
    # Entry criteria fired by an event name (action, inaction's first event, page blocks).
    entries_by_event: dict[str, list[LiveJourney]] = field(default_factory=dict)
    # Inaction entries cancelled by their not_event.
    inaction_cancels: dict[str, list[LiveJourney]] = field(default_factory=dict)
    date_time_entries: list[LiveJourney] = field(default_factory=list)
    past_behaviour_entries: list[LiveJourney] = field(default_factory=list)
    # (source journey id as str, block id) -> journeys whose entry is a Journey Trigger on it.
    journey_triggers: dict[tuple[str, str], list[LiveJourney]] = field(default_factory=dict)
    # Whether any version of a running journey reads a profile date (Date Time entry or
    # block): only then do profile updates need the engine's attention.
    profile_dates: bool = False


_lock = threading.Lock()
_indexes: dict[int, TriggerIndex] = {}


def _generation_key(project_id: int) -> str:
    return f"journeys:triggers:{project_id}"


def invalidate(project_id: int) -> None:
    """Called after a journey of the project changed (publish, pause, resume, stop)."""
    key = _generation_key(project_id)
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=None)
    with _lock:
        _indexes.pop(project_id, None)


def trigger_index(project_id: int) -> TriggerIndex:
    generation = cache.get(_generation_key(project_id)) or 0
    with _lock:
        index = _indexes.get(project_id)
        if index is not None and index.generation == generation:
            return index
    index = _build(project_id, generation)
    with _lock:
        _indexes[project_id] = index
    return index


def _build(project_id: int, generation: int) -> TriggerIndex:
    from builder.models import Journey
    from engine.blocks import handler

    index = TriggerIndex(generation=generation)
    rows = Journey.objects.filter(
        project_id=project_id, status__in=["live", "paused"], live_version__isnull=False
    ).values_list("id", "status", "end_at", "live_version_id")
    for journey_id, status, end_at, version_id in rows:
        live = LiveJourney(journey_id, status, end_at, version(version_id))
        index.journeys[journey_id] = live
        # Each kind files its entry itself (engine/blocks/).
        handler(live.entry.type).index_entry(index, live)
    from builder.models import JourneyVersion

    # Older versions still followed by users count too (their Date Time blocks wait on dates).
    version_ids = JourneyVersion.objects.filter(journey_id__in=list(index.journeys)).values_list(
        "id", flat=True
    )
    index.profile_dates = bool(index.date_time_entries) or any(
        handler(block.type).reads_profile_dates
        for vid in version_ids
        for block in version(vid).definition.nodes.values()
    )
    return index
