"""Date Time in the engine: a timer per user at a profile date (+ offset), moved when it changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.domain import lookup

from .base import Handler, UniformWake

if TYPE_CHECKING:
    from engine import loaders
    from engine.runner import Outcome, Row


def parse_datetime_value(value: Any) -> datetime | None:
    """A profile property as a date-time: ISO 8601 string (naive = UTC) or epoch seconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(
                value.replace("Z", "+00:00") if value.endswith("Z") else value
            )
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def date_time_target(block: Any, properties: Mapping[str, Any]) -> datetime | None:
    base = parse_datetime_value(lookup(properties, block.property))
    return None if base is None else base + timedelta(seconds=block.offset)


def _properties(profile_ids: Sequence[int]) -> dict[int, Any]:
    from engine.models import Profile

    return dict(Profile.objects.filter(id__in=profile_ids).values_list("id", "properties"))


class DateTime(Handler):
    reads_profile_dates = True

    def arrive(
        self, version: loaders.Version, node: str, rows: Sequence[Row], now: datetime
    ) -> dict[str, list[int]]:
        from engine import runner

        block: Any = version.definition.node(node)
        properties = _properties([r.profile_id for r in rows])
        no: dict[int, Outcome] = {}
        timers: dict[int, tuple[datetime, dict[str, Any]]] = {}
        for row in rows:
            target = date_time_target(block, properties.get(row.profile_id) or {})
            if target is None:
                no[row.id] = (
                    "no",
                    {"property": block.property, "reason": "missing or not a date-time"},
                )
            elif target <= now:
                no[row.id] = (
                    "no",
                    {
                        "property": block.property,
                        "at": target.isoformat(),
                        "reason": "already past",
                    },
                )
            else:
                timers[row.id] = (target, {"target": target.isoformat()})
        runner.set_timers(timers, node_state=runner.WAITING)
        return runner.leave(version, [r for r in rows if r.id in no], no, now) if no else {}

    def uniform_wake(self, block: Any) -> UniformWake | None:
        # "at": the time the timer was set for, from the enrollment's context.
        return UniformWake("yes", {"property": block.property}, from_context={"at": "target"})

    def profiles_changed(
        self, block: Any, rows: Sequence[tuple[int, int, dict[str, Any]]], now: datetime
    ) -> None:
        from engine import runner

        properties = _properties([profile_id for _, profile_id, _ in rows])
        timers = {}
        for enrollment_id, profile_id, context in rows:
            target = date_time_target(block, properties.get(profile_id) or {})
            # A removed property keeps the time it was scheduled with: nobody is stranded.
            if target is not None and target.isoformat() != (context or {}).get("target"):
                timers[enrollment_id] = (max(target, now), {"target": target.isoformat()})
        runner.set_timers(timers)

    # --- the entry: a candidate per profile, entering at its date ---------------------

    def index_entry(self, index: loaders.TriggerIndex, live: loaders.LiveJourney) -> None:
        index.date_time_entries.append(live)

    def went_live(
        self, live: loaders.LiveJourney, next_entry_check_at: datetime | None, now: datetime
    ) -> None:
        schedule_date_time(live, None, now)

    def entry_profiles_changed(
        self, live: loaders.LiveJourney, profile_ids: Sequence[int] | None, now: datetime
    ) -> None:
        schedule_date_time(live, profile_ids, now)


def schedule_date_time(
    live: loaders.LiveJourney, profile_ids: Sequence[int] | None, now: datetime
) -> int:
    """Date Time entry: (re)schedule candidates at property + offset for these profiles
    (None = every profile of the project, when the journey goes live)."""
    from django.db import transaction
    from django.db.models import F

    from engine import entries, runner
    from engine.models import Enrollment, Profile
    from engine.sql import locked

    entry = live.entry
    candidate = Enrollment.State.CANDIDATE
    qs = Profile.objects.filter(project_id=live.version.project_id)
    if profile_ids is not None:
        qs = qs.filter(id__in=profile_ids)
    scheduled = 0
    last_id = 0
    while True:
        chunk = list(
            qs.filter(id__gt=last_id).order_by("id").values_list("id", "properties")[:5000]
        )
        if not chunk:
            break
        last_id = chunk[-1][0]
        wakes: dict[int, tuple[datetime, int | None, dict[str, Any]]] = {}
        drop: list[int] = []
        for pid, properties in chunk:
            target = date_time_target(entry, properties or {})
            if target is None or target <= now:
                drop.append(pid)
            else:
                wakes[pid] = (
                    target,
                    None,
                    {"property": entry.property, "target": target.isoformat()},
                )
        with transaction.atomic():
            # A changed property moves the candidate's time; a removed one cancels it.
            existing = dict(
                locked(
                    Enrollment.objects.filter(
                        journey_id=live.journey_id,
                        state=candidate,
                        profile_id__in=[p for p, _ in chunk],
                    )
                ).values_list("profile_id", "id")
            )
            runner.set_timers(
                {
                    existing[pid]: (target, context)
                    for pid, (target, _, context) in wakes.items()
                    if pid in existing
                }
            )
            wakes = {pid: wake for pid, wake in wakes.items() if pid not in existing}
            stale = [existing[p] for p in drop if p in existing]
            if stale:
                Enrollment.objects.filter(id__in=stale, state=candidate).update(
                    state=Enrollment.State.CANCELLED, wake_at=None, revision=F("revision") + 1
                )
            scheduled += entries.add_candidates(live, wakes, now)
        if profile_ids is not None:
            break
    return scheduled


HANDLERS = {"date_time": DateTime()}
