"""What every block shares (id, type, name), the past-behaviour condition language and goals.

Each block kind (its dataclass, parser, fields and branches) lives in engine/domain/kinds/.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .fields import Comparison, Reader, SumComparison, join
from .filters import Filter

__all__ = [
    "MATCH_CHOICES",
    "ActionGoal",
    "Block",
    "BlockHeader",
    "Condition",
    "DidCondition",
    "DidNotCondition",
    "Goal",
    "PastBehaviourGoal",
    "ProfileCondition",
    "parse_conditions",
    "parse_goal",
    "parse_window",
]

MATCH_CHOICES: tuple[str, ...] = ("all", "any")
MAX_WINDOW_DAYS = 3650


# -- blocks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """Common to every block: its id, type string and optional display name."""

    id: str
    type: str
    name: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class BlockHeader:
    """The already-checked common fields handed to a block type's parse function."""

    id: str
    type: str
    name: str | None


@dataclass(frozen=True)
class DidCondition:
    """Did ``event`` (matching ``where``); ``count`` None and ``sum`` None mean at least once.

    With both ``count`` and ``sum`` set, both must hold.
    """

    kind: ClassVar[str] = "did"
    event: str
    where: tuple[Filter, ...] = ()
    count: Comparison | None = None
    sum: SumComparison | None = None

    @property
    def effective_count(self) -> Comparison | None:
        """The count to check: ``count``, or ``>= 1`` when neither count nor sum is given."""
        if self.count is None and self.sum is None:
            return Comparison("gte", 1)
        return self.count


@dataclass(frozen=True)
class DidNotCondition:
    """Did not do ``event`` (matching ``where``) in the window."""

    kind: ClassVar[str] = "did_not"
    event: str
    where: tuple[Filter, ...] = ()


@dataclass(frozen=True)
class ProfileCondition:
    """A profile property filter."""

    kind: ClassVar[str] = "profile"
    filter: Filter


Condition = DidCondition | DidNotCondition | ProfileCondition


@dataclass(frozen=True)
class ActionGoal:
    """Goal met as soon as the user does ``event`` (matching ``where``)."""

    type: ClassVar[str] = "action"
    id: str
    event: str
    where: tuple[Filter, ...] = ()
    name: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class PastBehaviourGoal:
    """Goal checked daily at 12:00 am project time over the last ``window_days`` days."""

    type: ClassVar[str] = "past_behaviour"
    id: str
    window_days: int
    match: str
    conditions: tuple[Condition, ...]
    name: str | None = field(default=None, kw_only=True)


Goal = ActionGoal | PastBehaviourGoal


# -- conditions and goals ----------------------------------------------------------------


def _condition(r: Reader, raw: Any, path: str) -> Condition | None:
    if not isinstance(raw, Mapping):
        r.error(path, "A condition must be an object with a 'kind' (did, did_not or profile)")
        return None
    kind = r.get_choice(raw, path, "kind", ("did", "did_not", "profile"), default=None)
    if kind is None:
        return None
    if kind == "profile":
        f = r.filter(raw, path)
        return ProfileCondition(f) if f is not None else None
    event = r.get_event(raw, path, "event", required=True)
    where = r.where(raw, path)
    if kind == "did_not":
        for key in ("count", "sum"):
            r.forbid(raw, path, key, f"'{key}' applies only to 'did' conditions")
        if event is None or where is None:
            return None
        return DidNotCondition(event, where)
    before = len(r.errors)
    count = r.comparison(raw, path, "count", minimum=0, required=False)
    total = r.sum_comparison(raw, path, "sum")
    if event is None or where is None or len(r.errors) > before:
        return None
    return DidCondition(event, where, count, total)


def parse_conditions(r: Reader, raw: Mapping[str, Any], path: str) -> tuple[Condition, ...] | None:
    """The ``conditions`` list of a past-behaviour block or goal."""
    items = raw.get("conditions")
    at = join(path, "conditions")
    if not isinstance(items, list | tuple) or not items:
        r.error(at, "Add at least one condition (did, did_not or profile)")
        return None
    if len(items) > 50:
        r.error(at, "At most 50 conditions")
        return None
    parsed = [_condition(r, item, join(at, i)) for i, item in enumerate(items)]
    if any(c is None for c in parsed):
        return None
    return tuple(c for c in parsed if c is not None)


def parse_window(r: Reader, raw: Mapping[str, Any], path: str) -> tuple[int | None, str | None]:
    window = r.get_int(raw, path, "window_days", minimum=1, maximum=MAX_WINDOW_DAYS)
    match = r.get_choice(raw, path, "match", MATCH_CHOICES, default="all")
    return window, match


def _goal_fields_ok(r: Reader, before: int) -> bool:
    return len(r.errors) == before


def parse_goal(
    r: Reader, raw: Mapping[str, Any], path: str, goal_id: str, name: str | None
) -> Goal | None:
    """The fields of a goal (its id, name and type already checked by the caller)."""
    before = len(r.errors)
    if raw.get("type") == "action":
        event = r.get_event(raw, path, "event", required=True)
        where = r.where(raw, path)
        if event is None or where is None or not _goal_fields_ok(r, before):
            return None
        return ActionGoal(goal_id, event, where, name=name)
    window, match = parse_window(r, raw, path)
    conditions = parse_conditions(r, raw, path)
    if window is None or match is None or conditions is None:
        return None
    return PastBehaviourGoal(goal_id, window, match, conditions, name=name)
