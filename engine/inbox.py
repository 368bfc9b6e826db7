"""The event inbox: ingest's to-do for the engine, processed per project in batches.

Ingest writes one ``EventInbox`` row per request in its own transaction and asks for
a task (at most one queued per project: a slot in the shared cache). The task claims
every committed row of the project (SKIP LOCKED on PostgreSQL), processes all their
events as one batch and deletes the rows in the same transaction: under load many
requests are processed together, and a task that fails or is lost leaves its rows for
the next one (the ticker sweeps rows older than a few seconds).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from engine import claims
from engine.models import EventInbox

ROWS_PER_ROUND = 40  # ingest requests processed together (each up to 1,000 events)
ROUNDS = 10  # then hand over to a new task, so one project cannot hold a worker forever
SWEEP_AGE = timedelta(seconds=10)
SLOT_SECONDS = 30


def slot(project_id: int) -> str:
    return f"journeys:inbox:{project_id}"


def schedule(project_id: int) -> None:
    """Ask for a task unless one is already queued for the project."""
    from engine import tasks

    if claims.claim(slot(project_id), SLOT_SECONDS):
        tasks.process_inbox.delay(project_id)


def process_inbox(project_id: int) -> int:
    """Process the events in the project's inbox; returns how many."""
    from engine.events import process_events
    from engine.sql import locked

    # Arrivals from now on ask for a new task; what is committed already is ours.
    claims.release(slot(project_id))
    done = 0
    for _ in range(ROUNDS):
        with transaction.atomic():
            rows = list(
                locked(EventInbox.objects.filter(project_id=project_id).order_by("id")).values_list(
                    "id", "event_ids"
                )[:ROWS_PER_ROUND]
            )
            if not rows:
                return done
            EventInbox.objects.filter(id__in=[row_id for row_id, _ in rows]).delete()
            event_ids = sorted({event_id for _, ids in rows for event_id in ids})
            process_events(event_ids)
        done += len(event_ids)
    schedule(project_id)
    return done


def stale_projects(now: datetime) -> list[int]:
    """Projects with inbox rows whose task seems lost (for the ticker's sweep)."""
    return list(
        EventInbox.objects.filter(created_at__lte=now - SWEEP_AGE)
        .values_list("project_id", flat=True)
        .distinct()
    )
