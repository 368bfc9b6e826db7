"""Poison rows: a batch of due work that keeps failing is split until the rows that fail
alone are found; those are set aside (quarantined) with the reason, the rest moves on.

A failure the database itself reports (connection lost, server restarting) is not the
rows' fault: it is raised again, so the batch is retried whole once the database is
back, and nothing is quarantined for it.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from engine.models import Enrollment

logger = logging.getLogger(__name__)

QUARANTINED = Enrollment.NodeState.QUARANTINED

# Errors that say the database (or the network to it) is unwell, not that rows are bad.
TRANSIENT: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)


def run_isolating(kind: str, ids: Sequence[int], move: Callable[[list[int]], int]) -> int:
    """Run ``move`` on ``ids``; when it fails, on each half, down to single rows, and
    quarantine a row that fails alone. Returns how many rows the moves reported."""
    if not ids:
        return 0
    try:
        return move(list(ids))
    except TRANSIENT:
        raise
    except Exception as exc:
        if len(ids) == 1:
            quarantine(ids[0], kind=kind, exc=exc)
            return 0
        middle = len(ids) // 2
        logger.warning("%s batch of %s failed (%s); splitting it", kind, len(ids), exc)
        return run_isolating(kind, ids[:middle], move) + run_isolating(kind, ids[middle:], move)


def quarantine(enrollment_id: int, *, kind: str, exc: BaseException) -> None:
    """Set the row aside: no timer, no deadline, node_state ``quarantine``; what it was
    waiting for and why it failed go to ``context["quarantine"]`` (shown in the admin)."""
    now = timezone.now()
    with transaction.atomic():
        row = (
            Enrollment.objects.select_for_update()
            .filter(pk=enrollment_id, state=Enrollment.State.ACTIVE)
            .exclude(node_state=QUARANTINED)
            .first()
        )
        if row is None:
            return
        reason = f"{type(exc).__name__}: {exc}"[:1000]
        row.context = {
            **(row.context or {}),
            "quarantine": {
                "at": now.isoformat(),
                "work": kind,
                "reason": reason,
                "where": "".join(traceback.format_exception(exc)[-3:])[-2000:],
                "node_state": row.node_state,
                "wake_at": row.wake_at.isoformat() if row.wake_at else None,
                "deadline": row.deadline.isoformat() if row.deadline else None,
            },
        }
        Enrollment.objects.filter(pk=row.pk).update(
            node_state=QUARANTINED,
            wake_at=None,
            deadline=None,
            context=row.context,
            revision=F("revision") + 1,
        )
    logger.error(
        "enrollment %s quarantined at %s after %s failed alone: %s", row.pk, row.node, kind, reason
    )


def release(enrollment_ids: Sequence[int]) -> int:
    """Put quarantined rows back as they were (after a fix): they are due again at once."""
    released = 0
    now = timezone.now()
    with transaction.atomic():
        for row in Enrollment.objects.select_for_update().filter(
            pk__in=list(enrollment_ids), node_state=QUARANTINED
        ):
            saved: dict[str, Any] = dict((row.context or {}).get("quarantine") or {})
            context = {k: v for k, v in (row.context or {}).items() if k != "quarantine"}
            wake = _at(saved.get("wake_at"))
            Enrollment.objects.filter(pk=row.pk).update(
                node_state=saved.get("node_state") or Enrollment.NodeState.PENDING,
                wake_at=min(wake, now) if wake else None,
                deadline=_at(saved.get("deadline")),
                context=context,
                revision=F("revision") + 1,
            )
            released += 1
    return released


def _at(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def due_ids(query: Q, order: str, limit: int) -> list[int]:
    """The ids a claim for ``query`` would take (without locking them)."""
    return list(
        Enrollment.objects.filter(query).order_by(order).values_list("id", flat=True)[:limit]
    )
