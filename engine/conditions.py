"""Past-behaviour conditions over a batch of profiles: one SQL query per batch.

The query (engine/condition_sql.py) returns what each condition observes per profile:
counts and sums of the matching events of the window, profile property values. The
verdict and the step-log detail come from those values through the comparison code of
the pure evaluator (engine/domain/evaluation.py), which the tests hold the query to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from engine.condition_sql import Observation, observe
from engine.domain import evaluation
from engine.domain.blocks import Condition, DidCondition, DidNotCondition, ProfileCondition


def event_names(conditions: Iterable[Condition]) -> set[str]:
    return {c.event for c in conditions if isinstance(c, DidCondition | DidNotCondition)}


def _nested(path: str, value: Any) -> dict[str, Any]:
    """Properties holding ``value`` at the dotted ``path`` (nothing when it is missing)."""
    if value is None:
        return {}
    *parents, last = path.split(".")
    properties: dict[str, Any] = {last: value}
    for part in reversed(parents):
        properties = {part: properties}
    return properties


def judge(condition: Condition, seen: Observation) -> tuple[bool, dict[str, Any]]:
    """One condition from what the query observed, through the pure evaluator's verdict."""
    properties = (
        _nested(condition.filter.property, seen.value)
        if isinstance(condition, ProfileCondition)
        else {}
    )
    return evaluation.judge(condition, count=seen.count, total=seen.total, profile=properties)


def evaluate_batch(
    *,
    conditions: Sequence[Condition],
    match: str,
    window_days: int,
    profile_ids: Sequence[int],
    now: datetime,
) -> dict[int, tuple[bool, dict[str, Any]]]:
    """Profile id -> (qualified, what the conditions saw), for every profile id given."""
    observed = observe(
        conditions, since=now - timedelta(days=window_days), now=now, profile_ids=profile_ids
    )
    out: dict[int, tuple[bool, dict[str, Any]]] = {}
    for profile_id in profile_ids:
        results = [judge(c, seen) for c, seen in zip(conditions, observed[profile_id], strict=True)]
        qualified, detail = evaluation.combine(results, match)
        out[profile_id] = (qualified, {**detail, "window_days": window_days})
    return out
