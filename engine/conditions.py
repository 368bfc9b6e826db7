"""Past-behaviour conditions over a batch of profiles: one events query, one profiles query.

The query fetches, for every profile of the batch, the events the conditions name
within the window; the verdict is the pure evaluator's (engine/domain/evaluation.py),
the same predicate that judges single events in memory, so the two cannot disagree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from engine.domain.blocks import Condition, DidCondition, DidNotCondition
from engine.domain.evaluation import SeenEvent, evaluate_conditions
from engine.models import Event, Profile


def event_names(conditions: Iterable[Condition]) -> set[str]:
    return {c.event for c in conditions if isinstance(c, DidCondition | DidNotCondition)}


def evaluate_batch(
    *,
    conditions: Sequence[Condition],
    match: str,
    window_days: int,
    profile_ids: Sequence[int],
    now: datetime,
) -> dict[int, tuple[bool, dict[str, Any]]]:
    """Profile id -> (qualified, what the conditions saw), for every profile id given."""
    since = now - timedelta(days=window_days)
    names = event_names(conditions)
    events: dict[int, list[SeenEvent]] = defaultdict(list)
    if names:
        rows = Event.objects.filter(
            profile_id__in=profile_ids, name__in=names, ts__gte=since, ts__lte=now
        ).values_list("profile_id", "name", "properties")
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
