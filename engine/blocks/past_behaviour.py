"""Past Behaviour in the engine: one condition query per batch, at midnight or on arrival."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .base import Handler, Settled

if TYPE_CHECKING:
    from engine import loaders
    from engine.runner import Outcome, Row


def evaluate(block: Any, rows: Sequence[Row], now: datetime) -> dict[int, Outcome]:
    """yes/no for every row, from one query over the batch's profiles."""
    from engine.conditions import evaluate_batch

    verdicts = evaluate_batch(
        conditions=block.conditions,
        match=block.match,
        window_days=block.window_days,
        profile_ids=[r.profile_id for r in rows],
        now=now,
    )
    return {
        r.id: ("yes" if verdicts[r.profile_id][0] else "no", verdicts[r.profile_id][1])
        for r in rows
    }


class PastBehaviour(Handler):
    def settle(self, block: Any, now: datetime) -> Settled | None:
        if block.evaluate == "on_arrival":
            return None
        # Evaluated by the project's 12:00 am run (engine.daily); no timer.
        return {"node_state": "waiting", "wake_at": None}

    def arrive(
        self, version: loaders.Version, node: str, rows: Sequence[Row], now: datetime
    ) -> dict[str, list[int]]:
        from engine import runner

        block = version.definition.node(node)
        return runner.leave(version, rows, evaluate(block, rows, now), now)

    def daily(self, version: loaders.Version, node: str, block: Any, now: datetime) -> int:
        from django.db import transaction
        from django.db.models import Q

        from engine import runner
        from engine.daily import batches
        from engine.models import Enrollment

        if block.evaluate == "on_arrival":
            return 0
        waiting = Q(
            version_id=version.id,
            node=node,
            state=Enrollment.State.ACTIVE,
            node_state=Enrollment.NodeState.WAITING,
        )
        evaluated = 0
        for ids in batches(waiting):
            with transaction.atomic():
                rows = runner.load_rows(Q(id__in=ids) & waiting)
                following = (
                    runner.leave(version, rows, evaluate(block, rows, now), now) if rows else {}
                )
            evaluated += len(rows)
            for target, moved in following.items():
                runner.process_arrivals(version.id, target, moved)
        return evaluated

    # --- the entry: evaluated over every profile at the start, then every 24 hours ---

    def index_entry(self, index: loaders.TriggerIndex, live: loaders.LiveJourney) -> None:
        index.past_behaviour_entries.append(live)

    def went_live(
        self, live: loaders.LiveJourney, next_entry_check_at: datetime | None, now: datetime
    ) -> None:
        from builder.models import Journey

        if next_entry_check_at is None:
            # Evaluated at the start time, then every 24 hours (engine.ticker.due_entry_checks).
            Journey.objects.filter(id=live.journey_id, next_entry_check_at__isnull=True).update(
                next_entry_check_at=now
            )

    def entry_check(self, live: loaders.LiveJourney, now: datetime) -> int:
        from engine import entries, segments

        # One statement over the whole project returns only the qualifying profiles
        # (engine/segments.py); they enter in batches, each its own transaction.
        entry = live.entry
        segment = segments.qualifying(
            project_id=live.version.project_id,
            conditions=entry.conditions,
            match=entry.match,
            window_days=entry.window_days,
            now=now,
        )
        return entries.enter_segment(live, segment, now)


HANDLERS = {"past_behaviour": PastBehaviour()}
