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
    """A journey that takes entries now (live, within its end time) at its live version.

    ``status_log`` holds its last status changes, oldest first, as (status, when): an event
    is judged by the status the journey had when the event was accepted (``as_of``).
    """

    journey_id: int
    status: str
    end_at: datetime | None
    version: Version
    status_log: tuple[tuple[str, datetime], ...] = ()

    @property
    def entry(self) -> Any:
        return self.version.definition.entry

    def takes_entries(self, now: datetime) -> bool:
        return self.status == "live" and (self.end_at is None or now < self.end_at)

    def status_at(self, when: datetime) -> str | None:
        """The status at ``when``; None before the oldest change this journey remembers."""
        if not self.status_log:
            return self.status  # changed before statuses were logged: the current one
        status = None
        for logged, at in self.status_log:
            if at > when:
                break
            status = logged
        return status

    def as_of(self, accepted: datetime) -> LiveJourney | None:
        """This journey as it took entries when an event was accepted: live then (even if
        paused since), or None (not live then, e.g. accepted before a publish or resume
        returned, or after its end time)."""
        if self.status_at(accepted) != "live":
            return None
        if self.end_at is not None and accepted >= self.end_at:
            return None
        if self.status == "live" and self.end_at is None:
            return self
        return LiveJourney(self.journey_id, "live", None, self.version, self.status_log)


def _parse_log(raw: Any) -> tuple[tuple[str, datetime], ...]:
    log: list[tuple[str, datetime]] = []
    for item in raw or ():
        try:
            log.append((str(item[0]), datetime.fromisoformat(item[1])))
        except (TypeError, ValueError, IndexError):
            continue  # an unreadable entry is skipped, never an error in the engine
    return tuple(log)


@dataclass
class TriggerIndex:
    """Which live journey of a project reacts to what."""

    generation: int
    # The journey rows it was built from: event processing compares them with the
    # database (``trigger_index(fresh=True)``), so it never judges by a stale copy.
    rows: tuple[tuple[Any, ...], ...] = ()
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


def trigger_index(project_id: int, *, fresh: bool = False) -> TriggerIndex:
    """The project's trigger index. ``fresh``: checked against the journeys' rows in the
    database (one indexed query) instead of trusting the shared cache's generation: event
    processing uses it, so an event accepted after a publish or resume returned always
    meets the new state, whatever the cache says."""
    generation = cache.get(_generation_key(project_id)) or 0
    rows = _running_rows(project_id) if fresh else None
    with _lock:
        index = _indexes.get(project_id)
        if index is not None and (
            index.rows == rows if rows is not None else index.generation == generation
        ):
            return index
    index = _build(project_id, generation, rows)
    with _lock:
        _indexes[project_id] = index
    return index


def _running_rows(project_id: int) -> tuple[tuple[Any, ...], ...]:
    from builder.models import Journey

    return tuple(
        Journey.objects.filter(
            project_id=project_id, status__in=["live", "paused"], live_version__isnull=False
        )
        .order_by("id")
        .values_list("id", "status", "end_at", "live_version_id", "status_log")
    )


def _build(
    project_id: int, generation: int, rows: tuple[tuple[Any, ...], ...] | None = None
) -> TriggerIndex:
    from engine.blocks import handler

    if rows is None:
        rows = _running_rows(project_id)
    index = TriggerIndex(generation=generation, rows=rows)
    for journey_id, status, end_at, version_id, log in rows:
        live = LiveJourney(journey_id, status, end_at, version(version_id), _parse_log(log))
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
