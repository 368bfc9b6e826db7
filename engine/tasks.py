"""Celery tasks of the engine. Thin: ids in, a service call, nothing waits inside a task."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.utils import timezone

from engine import delivery  # noqa: F401  (registers engine.deliver_messages with the worker)
from engine.models import Heartbeat

TASK_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "autoretry_for": (Exception,),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


def record_heartbeat(name: str = "worker") -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})


@shared_task(name="engine.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Run by the worker every few seconds (beat): proves a worker takes tasks."""
    record_heartbeat()


@worker_ready.connect
def _on_worker_ready(**_: object) -> None:
    record_heartbeat()


@shared_task(name="engine.process_inbox", **TASK_OPTIONS)
def process_inbox(project_id: int) -> int:
    """Process every event in the project's inbox (its ingest requests' events), as one batch."""
    from engine.inbox import process_inbox as run

    return run(project_id)


@shared_task(name="engine.process_pending", **TASK_OPTIONS)
def process_inbox_by_old_name(project_id: int) -> int:
    """``process_inbox`` under its name before the inbox had its own word (migration 0015),
    so tasks queued by an older release still run after an upgrade."""
    from engine.inbox import process_inbox as run

    return run(project_id)


@shared_task(name="engine.profiles_changed", **TASK_OPTIONS)
def profiles_changed(project_id: int, profile_ids: list[int]) -> None:
    from engine.lifecycle import profiles_changed as run

    run(project_id, profile_ids)


@shared_task(name="engine.journey_changed", **TASK_OPTIONS)
def journey_changed(journey_id: int, project_id: int, status: str) -> None:
    from engine.lifecycle import journey_changed as run

    run(journey_id=journey_id, project_id=project_id, status=status)


@shared_task(name="engine.due_work", **TASK_OPTIONS)
def due_work(kind: str, args: list[Any]) -> int:
    """One unit the ticker handed out: move up to a batch of due users at one block
    (timers, time-outs, candidates, lost arrivals), a Past Behaviour entry run, or a
    project's 12:00 am run. The rows are claimed inside the move, so a repeat is harmless."""
    from engine.work import run_inline

    return run_inline(kind, tuple(args))


@shared_task(name="engine.tick", ignore_result=True, acks_late=False)
def tick() -> None:
    """Beat runs this every second: claim what is due and hand it to the tasks above."""
    from engine.ticker import tick as run
    from engine.work import dispatch_to_celery
    from journeys_site.celery import ensure_queue_bindings

    ensure_queue_bindings()
    run(dispatch_to_celery)


@shared_task(name="engine.prune_frequency_counts", **TASK_OPTIONS)
def prune_frequency_counts() -> int:
    """Beat runs this hourly: forget frequency-cap counters of days and weeks long past."""
    from engine import limits

    return limits.counts_prune(timezone.now().date() - limits.COUNTS_KEEP)
