"""The reference the SQL is held to: the window's events fetched raw, judged in Python.

This was ``engine.conditions.evaluate_batch`` before the conditions compiled to SQL: one
events query shipping every event of the window, the verdict from the pure evaluator.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from engine.conditions import event_names
from engine.domain.blocks import Condition
from engine.domain.evaluation import SeenEvent, evaluate_conditions
from engine.models import Event, Profile


def evaluate_batch_in_python(
    *,
    conditions: Sequence[Condition],
    match: str,
    window_days: int,
    profile_ids: Sequence[int],
    now: datetime,
) -> dict[int, tuple[bool, dict[str, Any]]]:
    since = now - timedelta(days=window_days)
    names = event_names(conditions)
    events: dict[int, list[SeenEvent]] = defaultdict(list)
    if names:
        rows = (
            Event.objects.filter(
                profile_id__in=profile_ids, name__in=names, ts__gte=since, ts__lte=now
            )
            .order_by("id")
            .values_list("profile_id", "name", "properties")
        )
        for profile_id, name, properties in rows.iterator(chunk_size=5000):
            events[profile_id].append(SeenEvent(name, properties or {}))
    properties = dict(Profile.objects.filter(id__in=profile_ids).values_list("id", "properties"))
    out: dict[int, tuple[bool, dict[str, Any]]] = {}
    for profile_id in profile_ids:
        ok, seen = evaluate_conditions(
            conditions, match, events.get(profile_id, []), properties.get(profile_id) or {}
        )
        seen["window_days"] = window_days
        out[profile_id] = (ok, seen)
    return out
