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


def judge(
    condition: Condition, *, count: int, total: float | None, profile: Mapping[str, Any]
) -> tuple[bool, dict[str, Any]]:
    """One condition from what it observed: the number of matching events in the window,
    the sum of its ``sum`` property over them, and the profile's properties. The one
    verdict both the in-memory evaluator and the batch query (engine.conditions) use."""
    if isinstance(condition, ProfileCondition):
        f = condition.filter
        return filter_matches(f, profile), {
            "kind": "profile",
            "property": f.property,
            "value": lookup(profile, f.property),
        }
    if isinstance(condition, DidNotCondition):
        return count == 0, {"kind": "did_not", "event": condition.event, "count": count}
    seen: dict[str, Any] = {"kind": "did", "event": condition.event, "count": count}
    ok = True
    effective = condition.effective_count
    if effective is not None:
        ok = effective.matches(count)
    if condition.sum is not None:
        seen["sum"] = total if total is not None else 0.0
        ok = ok and condition.sum.matches(seen["sum"])
    return ok, seen


def combine(
    results: Sequence[tuple[bool, dict[str, Any]]], match: str
) -> tuple[bool, dict[str, Any]]:
    """All (``match="all"``) or any (``"any"``) of the conditions' results; with what each saw."""
    oks = [ok for ok, _ in results]
    qualified = all(oks) if match == "all" else any(oks)
    return qualified, {"match": match, "conditions": [dict(seen, met=ok) for ok, seen in results]}


def evaluate_condition(
    condition: Condition, events: Sequence[SeenEvent], profile: Mapping[str, Any]
) -> tuple[bool, dict[str, Any]]:
    """One condition; returns whether it holds and the values it saw (for the step log)."""
    if isinstance(condition, ProfileCondition):
        return judge(condition, count=0, total=None, profile=profile)
    matching = [
        e for e in events if e.name == condition.event and all_match(condition.where, e.properties)
    ]
    total: float | None = None
    if isinstance(condition, DidCondition) and condition.sum is not None:
        total = 0.0
        for e in matching:
            number = _number(lookup(e.properties, condition.sum.property))
            if number is not None:
                total += number
    return judge(condition, count=len(matching), total=total, profile=profile)


def evaluate_conditions(
    conditions: Iterable[Condition],
    match: str,
    events: Sequence[SeenEvent],
    profile: Mapping[str, Any],
) -> tuple[bool, dict[str, Any]]:
    """All (``match="all"``) or any (``"any"``) of the conditions; with what each saw."""
    return combine([evaluate_condition(c, events, profile) for c in conditions], match)
