"""What the engine does when a journey starts, changes or a profile changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from engine import entries, loaders, runner
from engine.domain import DateTimeBlock, PastBehaviourBlock
from engine.models import Enrollment, Profile


def journey_went_live(journey_id: int, now: datetime | None = None) -> None:
    """A journey started taking entries: schedule Date Time entries, due Past Behaviour entry."""
    from builder.models import Journey

    now = now or timezone.now()
    journey = (
        Journey.objects.filter(id=journey_id, status="live")
        .values("project_id", "next_entry_check_at")
        .first()
    )
    if journey is None:
        return
    live = loaders.trigger_index(journey["project_id"]).journeys.get(journey_id)
    if live is None:
        return
    entry = live.entry
    if isinstance(entry, DateTimeBlock):
        entries.schedule_date_time(live, None, now)
    elif isinstance(entry, PastBehaviourBlock) and journey["next_entry_check_at"] is None:
        # Evaluated at the start time, then every 24 hours (engine.ticker.due_entry_checks).
        Journey.objects.filter(id=journey_id, next_entry_check_at__isnull=True).update(
            next_entry_check_at=now
        )


def journey_changed(*, journey_id: int, project_id: int, status: str, **_: object) -> None:
    loaders.invalidate(project_id)
    if status == "live":
        journey_went_live(journey_id)
        run_pending_arrivals(journey_id)


def run_pending_arrivals(journey_id: int) -> None:
    """Users placed at a block by a new version (moved) or a resume are processed now,
    not when the ticker's stale-arrival sweep would find them."""
    from collections import defaultdict

    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    pending = Enrollment.objects.filter(
        journey_id=journey_id,
        state=Enrollment.State.ACTIVE,
        node_state=Enrollment.NodeState.PENDING,
    ).values_list("id", "version_id", "node")
    for enrollment_id, version_id, node in pending.iterator(chunk_size=5000):
        groups[(version_id, node)].append(enrollment_id)
    for (version_id, node), ids in groups.items():
        for start in range(0, len(ids), 5000):
            runner.process_arrivals(version_id, node, ids[start : start + 5000])


def profiles_changed(
    project_id: int, profile_ids: Sequence[int], now: datetime | None = None
) -> None:
    """Profile data changed: Date Time entries and Date Time blocks follow the new property."""
    now = now or timezone.now()
    index = loaders.trigger_index(project_id)
    for live in index.date_time_entries:
        if live.takes_entries(now):
            entries.schedule_date_time(live, profile_ids, now)
    waiting = Enrollment.objects.filter(
        profile_id__in=profile_ids,
        state=Enrollment.State.ACTIVE,
        node_state=Enrollment.NodeState.WAITING,
    )
    with transaction.atomic():
        rows = [
            row
            for row in runner.locked(waiting).values_list(
                "id", "version_id", "node", "profile_id", "context"
            )
            if isinstance(loaders.version(row[1]).definition.nodes.get(row[2]), DateTimeBlock)
        ]
        if not rows:
            return
        properties = dict(
            Profile.objects.filter(id__in=profile_ids).values_list("id", "properties")
        )
        timers = {}
        for enrollment_id, version_id, node, profile_id, context in rows:
            block = loaders.version(version_id).definition.nodes[node]
            assert isinstance(block, DateTimeBlock)
            target = runner.date_time_target(block, properties.get(profile_id) or {})
            # A removed property keeps the time it was scheduled with: nobody is stranded.
            if target is not None and target.isoformat() != (context or {}).get("target"):
                timers[enrollment_id] = (max(target, now), {"target": target.isoformat()})
        runner.set_timers(timers)
