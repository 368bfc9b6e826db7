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


def run_inline(kind: str, args: tuple[Any, ...]) -> None:
    from engine import daily, entries, runner

    if kind == "time_outs":
        runner.process_time_outs(*args)
    elif kind == "wakes":
        runner.process_wakes(*args)
    elif kind == "arrivals":
        runner.process_arrivals(*args)
    elif kind == "activate":
        entries.activate_candidates(*args)
    elif kind == "entry_check":
        run_entry_check(*args)
    elif kind == "daily":
        daily.run_daily_evaluations(*args)
    else:
        raise ValueError(f"Unknown work {kind!r}")


def dispatch_to_celery(kind: str, args: tuple[Any, ...]) -> None:
    from engine import tasks

    task = {
        "time_outs": tasks.time_outs,
        "wakes": tasks.wakes,
        "arrivals": tasks.arrivals,
        "activate": tasks.activate,
        "entry_check": tasks.entry_check,
        "daily": tasks.daily,
    }[kind]
    task.delay(*args)
