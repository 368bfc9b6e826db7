"""The 12:00 am run of a project: Past Behaviour blocks with users waiting, and Past Behaviour goals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from engine import loaders, runner, segments
from engine.blocks import handler
from engine.models import Enrollment

BATCH = runner.BATCH  # enrollments per transaction


def batches(q: Q) -> Iterator[list[int]]:
    last = 0
    while True:
        ids = list(
            Enrollment.objects.filter(q, id__gt=last)
            .order_by("id")
            .values_list("id", flat=True)[:BATCH]
        )
        if not ids:
            return
        last = ids[-1]
        yield ids


def run_daily_evaluations(project_id: int, now: datetime | None = None) -> dict[str, int]:
    from builder.models import Journey

    now = now or timezone.now()
    counts = {"goal_met": 0, "evaluated": 0}
    journeys = Journey.objects.filter(project_id=project_id, status="live").values_list(
        "id", flat=True
    )
    version_ids = set(
        Enrollment.objects.filter(journey_id__in=list(journeys), state=Enrollment.State.ACTIVE)
        .values_list("version_id", flat=True)
        .distinct()
    )
    for version_id in sorted(version_ids):
        version = loaders.version(version_id)
        # Goals first: a user who meets one exits and is not routed further.
        for goal in version.past_behaviour_goals:
            for ids in batches(Q(version_id=version_id, state=Enrollment.State.ACTIVE)):
                with transaction.atomic():
                    rows = runner.load_rows(Q(id__in=ids, state=Enrollment.State.ACTIVE))
                    # The entry's compiler (engine.segments), over this batch's profiles:
                    # only the ones meeting the goal come back, with what they saw.
                    seen = {
                        pid: detail
                        for chunk in segments.qualifying(
                            conditions=goal.conditions,
                            match=goal.match,
                            window_days=goal.window_days,
                            now=now,
                            profile_ids=[r.profile_id for r in rows],
                        )
                        for pid, detail in chunk
                    }
                    met = [r for r in rows if r.profile_id in seen]
                    runner.exit_rows(
                        {version_id: version},
                        met,
                        Enrollment.ExitReason.GOAL_MET,
                        now,
                        detail={r.id: {"goal": goal.id, **seen[r.profile_id]} for r in met},
                    )
                    counts["goal_met"] += len(met)
        for node, block in version.definition.nodes.items():
            counts["evaluated"] += handler(block.type).daily(version, node, block, now)
    return counts
