"""Runs units of due work, on Celery (the worker) or inline (run_due_work, tests)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from engine import loaders


def run_entry_check(journey_id: int) -> int:
    from builder.models import Journey
    from engine.entries import past_behaviour_entry

    project_id = Journey.objects.filter(id=journey_id).values_list("project_id", flat=True).first()
    if project_id is None:
        return 0
    live = loaders.trigger_index(project_id).journeys.get(journey_id)
    if live is None:
        return 0
    return past_behaviour_entry(live, timezone.now())


def run_inline(kind: str, args: tuple[Any, ...]) -> int:
    """Run one unit of work from the ticker here and now; frees its slot when done."""
    from engine import daily, entries, pending, runner, ticker

    slot: str | None = None
    try:
        if kind == "time_outs":
            limit, slot = args
            return runner.process_time_outs(limit=limit)
        if kind == "wakes":
            version_id, node, limit, slot = args
            return runner.process_wakes(version_id, node, limit=limit)
        if kind == "arrivals":
            version_id, node, limit, slot = args
            return runner.process_stale_arrivals(version_id, node, limit=limit)
        if kind == "activate":
            journey_id, limit, slot = args
            return entries.activate_candidates(journey_id=journey_id, limit=limit)
        if kind == "pending":
            return pending.process_pending(*args)
        if kind == "entry_check":
            return run_entry_check(*args)
        if kind == "daily":
            return sum(daily.run_daily_evaluations(*args).values())
        raise ValueError(f"Unknown work {kind!r}")
    finally:
        ticker.release(slot)


def dispatch_to_celery(kind: str, args: tuple[Any, ...]) -> None:
    from engine import tasks

    tasks.due_work.delay(kind, list(args))
