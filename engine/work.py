"""Runs units of due work, on Celery (the worker) or inline (run_due_work, tests)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from engine import loaders, quarantine

logger = logging.getLogger(__name__)


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
    from engine import daily, entries, inbox, runner, ticker

    slot: str | None = None
    try:
        if kind == "time_outs":
            limit, slot = args
            return _isolating(
                kind,
                lambda: runner.process_time_outs(limit=limit),
                lambda now: quarantine.due_ids(runner.timed_out(now), "deadline", limit),
                lambda ids: runner.process_time_outs(ids),
            )
        if kind == "wakes":
            version_id, node, limit, slot = args
            return _isolating(
                kind,
                lambda: runner.process_wakes(version_id, node, limit=limit),
                lambda now: quarantine.due_ids(
                    runner.due_wakes(version_id, node, now), "wake_at", limit
                ),
                lambda ids: runner.process_wakes(version_id, node, ids),
            )
        if kind == "arrivals":
            version_id, node, limit, slot = args
            return _isolating(
                kind,
                lambda: runner.process_stale_arrivals(version_id, node, limit=limit),
                lambda now: quarantine.due_ids(
                    runner.stale_arrivals(now) & Q(version_id=version_id, node=node),
                    "node_entered_at",
                    limit,
                ),
                lambda ids: runner.process_arrivals(version_id, node, ids),
            )
        if kind == "activate":
            journey_id, limit, slot = args
            return entries.activate_candidates(journey_id=journey_id, limit=limit)
        if kind in ("inbox", "pending"):  # "pending": its name before 0015, still queued
            return inbox.process_inbox(*args)
        if kind == "entry_check":
            return run_entry_check(*args)
        if kind == "daily":
            return sum(daily.run_daily_evaluations(*args).values())
        raise ValueError(f"Unknown work {kind!r}")
    finally:
        ticker.release(slot)


def _isolating(
    kind: str,
    run: Callable[[], int],
    due: Callable[[datetime], list[int]],
    move: Callable[[list[int]], int],
) -> int:
    """Run a batch; if it fails for a reason other than the database being unwell, run its
    rows again in halves until the poison rows are found and quarantined (quarantine.py),
    so one bad row never holds up the others or is retried forever."""
    try:
        return run()
    except quarantine.TRANSIENT:
        raise
    except Exception:
        logger.exception("%s batch failed; isolating the rows that fail", kind)
        return quarantine.run_isolating(kind, due(timezone.now()), move)


def dispatch_to_celery(kind: str, args: tuple[Any, ...]) -> None:
    from engine import tasks

    tasks.due_work.delay(kind, list(args))
