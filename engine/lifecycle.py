"""What the engine does when a journey starts, changes or a profile changes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from engine import loaders, runner
from engine.blocks import handler
from engine.models import Enrollment
from engine.sql import locked


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
    handler(live.entry.type).went_live(live, journey["next_entry_check_at"], now)


def journey_changed(*, journey_id: int, project_id: int, status: str, **_: object) -> None:
    loaders.invalidate(project_id)
    if status == "live":
        journey_went_live(journey_id)
        run_pending_arrivals(journey_id)


def run_pending_arrivals(journey_id: int) -> None:
    """Users placed at a block by a new version (moved) or a resume are processed now,
    not when the ticker's stale-arrival sweep would find them."""
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
            handler(live.entry.type).entry_profiles_changed(live, profile_ids, now)
    waiting = Enrollment.objects.filter(
        profile_id__in=profile_ids,
        state=Enrollment.State.ACTIVE,
        node_state=Enrollment.NodeState.WAITING,
    )
    with transaction.atomic():
        by_block: dict[tuple[int, str], list[tuple[int, int, dict[str, Any]]]] = defaultdict(list)
        for enrollment_id, version_id, node, profile_id, context in locked(waiting).values_list(
            "id", "version_id", "node", "profile_id", "context"
        ):
            block = loaders.version(version_id).definition.nodes.get(node)
            if block is not None and handler(block.type).reads_profile_dates:
                by_block[(version_id, node)].append((enrollment_id, profile_id, context))
        for (version_id, node), rows in by_block.items():
            block = loaders.version(version_id).definition.nodes[node]
            handler(block.type).profiles_changed(block, rows, now)
