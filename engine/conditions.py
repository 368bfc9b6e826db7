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
from engine.domain.blocks import Condition, DidCondition, DidNotCondition, ProfileCondition
from engine.domain.filters import filter_matches, lookup


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
    """One condition from what it observed; the same verdict and detail as
    ``engine.domain.evaluation.evaluate_condition`` over the events themselves."""
    if isinstance(condition, ProfileCondition):
        f = condition.filter
        properties = _nested(f.property, seen.value)
        return filter_matches(f, properties), {
            "kind": "profile",
            "property": f.property,
            "value": lookup(properties, f.property),
        }
    if isinstance(condition, DidNotCondition):
        return seen.count == 0, {"kind": "did_not", "event": condition.event, "count": seen.count}
    detail: dict[str, Any] = {"kind": "did", "event": condition.event, "count": seen.count}
    ok = True
    count = condition.effective_count
    if count is not None:
        ok = count.matches(seen.count)
    if condition.sum is not None:
        total = seen.total if seen.total is not None else 0.0
        detail["sum"] = total
        ok = ok and condition.sum.matches(total)
    return ok, detail


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
        oks = [ok for ok, _ in results]
        qualified = all(oks) if match == "all" else any(oks)
        detail: dict[str, Any] = {
            "match": match,
            "conditions": [dict(d, met=ok) for ok, d in results],
            "window_days": window_days,
        }
        out[profile_id] = (qualified, detail)
    return out
