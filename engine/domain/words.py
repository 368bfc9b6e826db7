"""Plain words for what the engine recorded: a step's path and reason, an exit, a check.

Shared by the profile page, the timeline and the admin, so all say the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .registry import block_type

__all__ = ["EXIT_WORDS", "OUTCOME_WORDS", "condition_words", "kind_label", "why_words"]


EXIT_WORDS = {
    "goal_met": "Reached the goal",
    "time_out": "Ran out of conversion time",
    "completed": "Completed the journey",
    "stopped": "Journey was stopped",
    "removed": "Removed when the journey changed",
}


OUTCOME_WORDS = {
    "next": "Moved on",
    "yes": "Matched, so took the yes path",
    "no": "Did not match, so took the no path",
    "exit": "Left the journey here",
    "end": "Reached the end of this path",
    "moved": "Moved when a new version was published",
    "branch": "Took a named branch",
}
_SKIP = {"match", "window_days", "kind", "conditions", "reason", "goal", "entry", "met"}


def condition_words(condition: Mapping[str, Any]) -> str:
    kind, event = condition.get("kind"), condition.get("event")
    met = "yes" if condition.get("met") else "no"
    if kind == "did":
        count = condition.get("count")
        times = f", {count} time{'s' if count != 1 else ''}" if count is not None else ""
        total = f", total {condition['sum']}" if condition.get("sum") is not None else ""
        return f"did {event}{times}{total} ({met})"
    if kind == "did_not":
        return f"did not do {event} ({met})"
    if kind == "profile":
        return f"profile {condition.get('property')} ({met})"
    return f"{kind} ({met})"


def why_words(why: Any, path: str | None) -> str:
    """Plain words for a step's outcome and the reason the engine recorded with it."""
    parts: list[str] = [OUTCOME_WORDS.get(path, f"Took the “{path}” path")] if path else []
    if not isinstance(why, Mapping):
        return ". ".join(parts)
    if why.get("reason"):
        parts.append(EXIT_WORDS.get(str(why["reason"]), str(why["reason"]).replace("_", " ")))
    if why.get("goal"):
        parts.append(f"met the goal “{why['goal']}”")
    if why.get("entry"):
        parts.append(f"entered through the {kind_label(why['entry']) or why['entry']} entry")
    conditions = why.get("conditions")
    if isinstance(conditions, list) and conditions:
        window = why.get("window_days")
        within = f" in the last {window} day{'s' if window != 1 else ''}" if window else ""
        words = [condition_words(c) for c in conditions if isinstance(c, Mapping)]
        joiner = " and " if why.get("match", "all") == "all" else " or "
        parts.append(f"checked{within}: {joiner.join(words)}")
    for key, value in why.items():
        if key in _SKIP or value in (None, "", [], {}) or isinstance(value, Mapping | list):
            continue
        parts.append(f"{str(key).replace('_', ' ')}: {value}")
    return ". ".join(p[0].upper() + p[1:] for p in parts if p)


def kind_label(type_: Any) -> str:
    kind = block_type(type_) if isinstance(type_, str) else None
    return kind.label if kind is not None else ""
