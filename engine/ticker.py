"""The ticker: finds due work by index and hands it out in batches, one task per block.

Run every second by Celery beat (``engine.tick``) and synchronously by
``manage.py run_due_work``. The ticker only COUNTS what is due, per (version, block),
and hands out one unit of work per batch of 5,000: "move up to 5,000 due users at
this block". The task claims the rows itself, inside the transaction that moves them
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent tasks split the rows; SQLite
runs one writer at a time), so each user is written once. A unit handed out is
remembered for a minute (a "slot" in the shared cache) so the next ticks do not hand
it out again while it runs; a lost task's slot runs out and the rows are handed out
again.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q
from django.utils import timezone

from engine import claims, inbox, loaders, runner
from engine.models import Enrollment, Project

log = logging.getLogger(__name__)

SLOT_SECONDS = 60  # how long a handed-out batch is assumed to be running

# A unit of work: (kind, arguments). Kinds map to tasks in engine/tasks.py.
Work = tuple[str, tuple[Any, ...]]
Dispatch = Callable[[str, tuple[Any, ...]], None]


def _slots(kind: str, key: str, due: int, limit: int) -> list[str]:
    """Cache keys of the batches of this due group that are not handed out already."""
    keys = []
    for number in range(math.ceil(due / limit)):
        slot = f"journeys:due:{kind}:{key}:{number}"
        if claims.claim(slot, SLOT_SECONDS):
            keys.append(slot)
    return keys


def release(slot: str | None) -> None:
    if slot:
        claims.release(slot)


def start_scheduled(now: datetime) -> list[int]:
    from builder.models import Journey

    started = []
    for journey_id, project_id, log in Journey.objects.filter(
        status="scheduled", start_at__lte=now
    ).values_list("id", "project_id", "status_log"):
        log = [*(log or []), ["live", now.isoformat()]][-Journey.STATUS_LOG_KEEP :]
        if Journey.objects.filter(id=journey_id, status="scheduled").update(
            status="live", published_at=now, status_log=log
        ):
            loaders.invalidate(project_id)
            from engine import lifecycle

            lifecycle.journey_went_live(journey_id, now)
            started.append(journey_id)
    return started


def due_daily_projects(now: datetime) -> list[int]:
    """Projects whose local midnight has passed since their daily run (claimed by CAS)."""
    due = []
    for project_id, tz, last in Project.objects.values_list("id", "timezone", "daily_run_on"):
        try:
            today = now.astimezone(ZoneInfo(tz)).date()
        except Exception:  # a bad zone must not stop the ticker for everyone
            log.warning("Project %s has an unusable time zone %r", project_id, tz)
            continue
        if last is None:
            Project.objects.filter(id=project_id, daily_run_on__isnull=True).update(
                daily_run_on=today
            )
        elif today > last and Project.objects.filter(id=project_id, daily_run_on=last).update(
            daily_run_on=today
        ):
            due.append(project_id)
    return due


def due_entry_checks(now: datetime) -> list[int]:
    """Live journeys whose Past Behaviour entry is due (at start, then every 24 hours)."""
    from builder.models import Journey

    due = []
    for journey_id, at in Journey.objects.filter(
        status="live", next_entry_check_at__lte=now
    ).values_list("id", "next_entry_check_at"):
        assert at is not None  # filtered on next_entry_check_at <= now
        following = at + timedelta(days=1)
        while following <= now:
            following += timedelta(days=1)
        if Journey.objects.filter(id=journey_id, next_entry_check_at=at).update(
            next_entry_check_at=following
        ):
            due.append(journey_id)
    return due


def _grouped(q: Q, *fields: str) -> list[tuple[Any, ...]]:
    return list(
        Enrollment.objects.filter(q)
        .values(*fields)
        .annotate(n=Count("id"))
        .values_list(*fields, "n")
    )


def collect(now: datetime, limit: int = runner.BATCH) -> list[Work]:
    """One pass over everything due now. Returns the work to run, one unit per batch."""
    work: list[Work] = []
    start_scheduled(now)
    time_outs = Enrollment.objects.filter(runner.timed_out(now)).count()
    for slot in _slots("time_outs", "all", time_outs, limit):
        work.append(("time_outs", (limit, slot)))
    running = Q(journey__status="live")
    wakes = Q(state="active", node_state="waiting", wake_at__lte=now) & running
    for version_id, node, due in _grouped(wakes, "version_id", "node"):
        for slot in _slots("wakes", f"{version_id}:{node}", due, limit):
            work.append(("wakes", (version_id, node, limit, slot)))
    candidates = Q(state="candidate", wake_at__lte=now) & running
    for journey_id, due in _grouped(candidates, "journey_id"):
        for slot in _slots("activate", str(journey_id), due, limit):
            work.append(("activate", (journey_id, limit, slot)))
    for version_id, node, due in _grouped(runner.stale_arrivals(now), "version_id", "node"):
        for slot in _slots("arrivals", f"{version_id}:{node}", due, limit):
            work.append(("arrivals", (version_id, node, limit, slot)))
    for project_id in inbox.stale_projects(now):
        if claims.claim(inbox.slot(project_id), inbox.SLOT_SECONDS):
            work.append(("inbox", (project_id,)))
    for journey_id in due_entry_checks(now):
        work.append(("entry_check", (journey_id,)))
    for project_id in due_daily_projects(now):
        work.append(("daily", (project_id,)))
    return work


def tick(dispatch: Dispatch, *, now: datetime | None = None) -> int:
    """Hand out everything due now (work already handed out and running is not repeated)."""
    work = collect(now or timezone.now())
    for kind, args in work:
        dispatch(kind, args)
    _deliver_due(now or timezone.now())
    return len(work)


# New messages are dispatched when their move commits; the tick only picks up retries
# that came due and dispatches that were lost, so it looks a few seconds back.
DELIVERY_SWEEP_GRACE = timedelta(seconds=5)


def _deliver_due(now: datetime) -> None:
    from engine import delivery

    ids = delivery.due_message_ids(now - DELIVERY_SWEEP_GRACE, 1000)
    if ids:
        delivery.dispatch(ids)


__all__ = ["Work", "collect", "tick"]
