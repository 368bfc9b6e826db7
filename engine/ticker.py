"""The ticker: finds due work by index and hands it out in batches, one task per block.

Run every second by Celery beat (``engine.tick``) and synchronously by
``manage.py run_due_work``. Due rows are claimed, not just read: on PostgreSQL with
``SELECT ... FOR UPDATE SKIP LOCKED`` so concurrent tickers split the work; on SQLite
writers are serialised by the database. A claim sets a short lease; a task that is
lost lets its lease run out and the rows are claimed again.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from engine import loaders
from engine.models import Enrollment, Project

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
CLAIM_BATCH = 5000
STALE_ARRIVAL = timedelta(seconds=15)

# A unit of work: (kind, arguments). Kinds map to tasks in engine/tasks.py.
Work = tuple[str, tuple[Any, ...]]
Dispatch = Callable[[str, tuple[Any, ...]], None]


def _claim(q: Q, order: str, now: datetime, limit: int) -> list[tuple[int, int, str, str]]:
    with transaction.atomic():
        qs = (
            Enrollment.objects.filter(q)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .order_by(order)
        )
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        rows = list(qs.values_list("id", "version_id", "node", "state")[:limit])
        if rows:
            Enrollment.objects.filter(id__in=[r[0] for r in rows]).update(lease_until=now + LEASE)
    return rows


def _group(rows: list[tuple[int, int, str, str]]) -> dict[tuple[int, str, str], list[int]]:
    groups: dict[tuple[int, str, str], list[int]] = defaultdict(list)
    for enrollment_id, version_id, node, state in rows:
        groups[(version_id, node, state)].append(enrollment_id)
    return groups


def start_scheduled(now: datetime) -> list[int]:
    from builder.models import Journey

    started = []
    for journey_id, project_id in Journey.objects.filter(
        status="scheduled", start_at__lte=now
    ).values_list("id", "project_id"):
        if Journey.objects.filter(id=journey_id, status="scheduled").update(
            status="live", published_at=now
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


def collect(now: datetime, limit: int = CLAIM_BATCH) -> list[Work]:
    """One pass over everything due now; each batch claimed. Returns the work to run."""
    work: list[Work] = []
    start_scheduled(now)
    running = Q(journey__status="live")
    # A time-out waits while a timer due before it is still pending (after an outage, due
    # work runs in time order: the user may have completed before the deadline).
    timed_out = Q(state="active", deadline__lte=now) & (
        Q(wake_at__isnull=True) | Q(wake_at__gte=F("deadline"))
    )
    for ids in _group(_claim(timed_out & running, "deadline", now, limit)).values():
        work.append(("time_outs", (ids,)))
    for (version_id, node, state), ids in _group(
        _claim(
            Q(state__in=["active", "candidate"], wake_at__lte=now) & running, "wake_at", now, limit
        )
    ).items():
        if state == "candidate":
            work.append(("activate", (ids,)))
        else:
            work.append(("wakes", (version_id, node, ids)))
    for (version_id, node, _), ids in _group(
        _claim(
            Q(state="active", node_state="pending", node_entered_at__lte=now - STALE_ARRIVAL)
            & running,
            "node_entered_at",
            now,
            limit,
        )
    ).items():
        work.append(("arrivals", (version_id, node, ids)))
    for journey_id in due_entry_checks(now):
        work.append(("entry_check", (journey_id,)))
    for project_id in due_daily_projects(now):
        work.append(("daily", (project_id,)))
    return work


def tick(dispatch: Dispatch, *, budget_seconds: float = 0.8, now: datetime | None = None) -> int:
    """Claim and dispatch due work until none is left or the time budget is spent."""
    started = time.monotonic()
    handed = 0
    while True:
        moment = now or timezone.now()
        work = collect(moment)
        for kind, args in work:
            dispatch(kind, args)
        handed += len(work)
        if not work or time.monotonic() - started > budget_seconds or now is not None:
            break
    _deliver_due(now or timezone.now())
    return handed


def _deliver_due(now: datetime) -> None:
    from engine import delivery

    ids = delivery.due_message_ids(now, 1000)
    if ids:
        delivery.dispatch(ids)


__all__ = ["Work", "collect", "tick"]
