"""Past-behaviour semantics: do a profile's events and properties meet a set of conditions."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .blocks import Condition, DidCondition, DidNotCondition, ProfileCondition
from .filters import all_match, filter_matches, lookup


@dataclass(frozen=True)
class SeenEvent:
    """An event as the evaluator needs it (already limited to the window)."""

    name: str
    properties: Mapping[str, Any]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def evaluate_condition(
    condition: Condition, events: Sequence[SeenEvent], profile: Mapping[str, Any]
) -> tuple[bool, dict[str, Any]]:
    """One condition; returns whether it holds and the values it saw (for the step log)."""
    if isinstance(condition, ProfileCondition):
        f = condition.filter
        return filter_matches(f, profile), {
            "kind": "profile",
            "property": f.property,
            "value": lookup(profile, f.property),
        }
    matching = [
        e for e in events if e.name == condition.event and all_match(condition.where, e.properties)
    ]
    if isinstance(condition, DidNotCondition):
        return not matching, {"kind": "did_not", "event": condition.event, "count": len(matching)}
    assert isinstance(condition, DidCondition)
    seen: dict[str, Any] = {"kind": "did", "event": condition.event, "count": len(matching)}
    ok = True
    count = condition.effective_count
    if count is not None:
        ok = count.matches(len(matching))
    if condition.sum is not None:
        total = 0.0
        for e in matching:
            number = _number(lookup(e.properties, condition.sum.property))
            if number is not None:
                total += number
        seen["sum"] = total
        ok = ok and condition.sum.matches(total)
    return ok, seen


def evaluate_conditions(
    conditions: Iterable[Condition],
    match: str,
    events: Sequence[SeenEvent],
    profile: Mapping[str, Any],
) -> tuple[bool, dict[str, Any]]:
    """All (``match="all"``) or any (``"any"``) of the conditions; with what each saw."""
    results = [evaluate_condition(c, events, profile) for c in conditions]
    oks = [ok for ok, _ in results]
    qualified = all(oks) if match == "all" else any(oks)
    return qualified, {"match": match, "conditions": [dict(seen, met=ok) for ok, seen in results]}
