"""Reading raw definition JSON into typed values, collecting (path, message) errors on the way."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .durations import DurationError, parse_duration
from .errors import DefinitionError
from .filters import FILTER_OPS, VALUE_FILTER_OPS, VALUELESS_OPS, Filter, ValueFilter
from .templates import template_errors

__all__ = [
    "COMPARISON_OPS",
    "ID_PATTERN",
    "MAX_SAFE_INTEGER",
    "BlockContext",
    "Comparison",
    "Reader",
    "SumComparison",
    "ValidationContext",
    "join",
]

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
COMPARISON_OPS: tuple[str, ...] = ("eq", "neq", "gt", "gte", "lt", "lte")
# Integers a JSON client (JavaScript) and a 64-bit column can both hold exactly.
MAX_SAFE_INTEGER = 2**53
MAX_COUNT = 1_000_000_000
MAX_TEXT = 100_000
_PROPERTY_PART = re.compile(r"^[^.\s][^.]*$")
_MISSING: Any = object()


def _compare(op: str, left: float, right: float) -> bool:
    if op == "eq":
        return left == right
    if op == "neq":
        return left != right
    if op == "gt":
        return left > right
    if op == "gte":
        return left >= right
    if op == "lt":
        return left < right
    if op == "lte":
        return left <= right
    raise ValueError(f"Unknown comparison {op!r}")


@dataclass(frozen=True)
class Comparison:
    """``{"op", "value"}`` on a count: ``op`` in ``eq neq gt gte lt lte``, ``value`` an int >= 0."""

    op: str
    value: int

    def matches(self, number: float) -> bool:
        return _compare(self.op, number, self.value)


@dataclass(frozen=True)
class SumComparison:
    """``{"property", "op", "value"}``: the sum of a numeric event property compared with a number."""

    property: str
    op: str
    value: float

    def matches(self, total: float) -> bool:
        return _compare(self.op, total, self.value)


@dataclass(frozen=True)
class ValidationContext:
    """What the caller knows about the project, for cross-journey checks (Journey Trigger).

    ``journey_blocks(journey_id)`` returns the block ids of ANOTHER journey of the same
    project, or ``None`` when there is no such journey; ``this_journey`` is the id of the
    journey being validated (``None`` for a new one). Ids are compared as strings.
    """

    journey_blocks: Callable[[str], set[str] | frozenset[str] | None]
    this_journey: str | int | None = None


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _quote(value: Any, limit: int = 40) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


@dataclass
class Reader:
    """Collects errors while raw JSON is read; every ``get_*`` returns ``None`` on a problem."""

    errors: list[DefinitionError] = field(default_factory=list)

    def error(self, path: str, message: str) -> None:
        self.errors.append(DefinitionError(path, message))

    # -- scalars -----------------------------------------------------------------------

    def get_str(
        self,
        obj: Mapping[str, Any],
        path: str,
        key: str,
        *,
        required: bool = False,
        template: bool = False,
        label: str | None = None,
    ) -> str | None:
        what = label or f"'{key}'"
        value = obj.get(key)
        at = join(path, key)
        if value is None:
            if required:
                self.error(at, f"{what} is required")
            return None
        if not isinstance(value, str):
            self.error(at, f"{what} must be text")
            return None
        if required and not value.strip():
            self.error(at, f"{what} is required")
            return None
        if len(value) > MAX_TEXT:
            self.error(at, f"{what} is too long (at most {MAX_TEXT} characters)")
            return None
        if template:
            problem = template_errors(value)
            if problem is not None:
                self.error(at, f"Invalid Liquid template: {problem}")
                return None
        return value

    def get_bool(
        self, obj: Mapping[str, Any], path: str, key: str, *, default: bool
    ) -> bool | None:
        value = obj.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(join(path, key), f"'{key}' must be true or false")
            return None
        return value

    def get_choice(
        self,
        obj: Mapping[str, Any],
        path: str,
        key: str,
        choices: Sequence[str],
        *,
        default: str | None,
    ) -> str | None:
        value = obj.get(key)
        if value is None:
            if default is None:
                self.error(
                    join(path, key), f"'{key}' is required; use one of: {', '.join(choices)}"
                )
            return default
        if not isinstance(value, str) or value not in choices:
            self.error(
                join(path, key),
                f"Unknown {key} '{_quote(value)}'; use one of: {', '.join(choices)}",
            )
            return None
        return value

    def get_int(
        self,
        obj: Mapping[str, Any],
        path: str,
        key: str,
        *,
        minimum: int,
        maximum: int,
        required: bool = True,
    ) -> int | None:
        raw = obj.get(key)
        at = join(path, key)
        if raw is None:
            if required:
                self.error(at, f"'{key}' is required")
            return None
        value = _as_int(raw)
        if value is None:
            self.error(at, f"'{key}' must be a whole number")
            return None
        if not minimum <= value <= maximum:
            self.error(at, f"'{key}' must be between {minimum} and {maximum}")
            return None
        return value

    def get_duration(
        self,
        obj: Mapping[str, Any],
        path: str,
        key: str,
        *,
        required: bool,
        positive: bool = True,
        allow_negative: bool = False,
    ) -> int | None:
        raw = obj.get(key)
        at = join(path, key)
        if raw is None:
            if required:
                self.error(at, f"'{key}' is required (a duration such as 'PT20M' or 'P1D')")
            return None
        try:
            seconds = parse_duration(raw, allow_negative=allow_negative)
        except DurationError as error:
            self.error(at, error.message)
            return None
        if positive and seconds <= 0:
            self.error(at, f"'{key}' must be longer than zero")
            return None
        return seconds

    def get_datetime(self, obj: Mapping[str, Any], path: str, key: str) -> datetime | None:
        raw = obj.get(key)
        at = join(path, key)
        if raw is None:
            return None
        if not isinstance(raw, str):
            self.error(at, f"'{key}' must be an ISO 8601 date-time such as 2026-11-28T10:00:00Z")
            return None
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            self.error(at, f"'{key}' must be an ISO 8601 date-time such as 2026-11-28T10:00:00Z")
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            self.error(at, f"'{key}' needs a time zone, e.g. 2026-11-28T10:00:00Z or +05:30")
            return None
        try:
            return value.astimezone(UTC)
        except (OverflowError, ValueError):
            self.error(at, f"'{key}' is out of range")
            return None

    def get_event(
        self, obj: Mapping[str, Any], path: str, key: str, *, required: bool
    ) -> str | None:
        value = obj.get(key)
        if value is not None and isinstance(value, str) and len(value) > 255:
            self.error(join(path, key), "Event names are at most 255 characters")
            return None
        return self.get_str(obj, path, key, required=required, label=f"'{key}' (an event name)")

    def get_object(
        self, obj: Mapping[str, Any], path: str, key: str, *, required: bool
    ) -> Mapping[str, Any] | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.error(join(path, key), f"'{key}' is required")
            return None
        if not isinstance(value, Mapping):
            self.error(join(path, key), f"'{key}' must be an object")
            return None
        return value

    def forbid(self, obj: Mapping[str, Any], path: str, key: str, message: str) -> None:
        if obj.get(key) is not None:
            self.error(join(path, key), message)

    # -- filters -----------------------------------------------------------------------

    def property_name(self, raw: Any, at: str, *, label: str = "'property'") -> str | None:
        if raw is None:
            self.error(at, f"{label} is required")
            return None
        if not isinstance(raw, str) or not raw.strip():
            self.error(at, f"{label} must be a property name")
            return None
        if len(raw) > 255 or not all(_PROPERTY_PART.match(p) for p in raw.split(".")):
            self.error(at, f"'{_quote(raw)}' is not a valid property name")
            return None
        return raw

    def _scalar(self, value: Any, at: str, *, strings_only: bool = False) -> bool:
        if isinstance(value, str):
            if len(value) > MAX_TEXT:
                self.error(at, "Value is too long")
                return False
            return True
        if strings_only:
            self.error(at, "Value must be text")
            return False
        if isinstance(value, bool):
            return True
        if isinstance(value, int):
            if abs(value) > MAX_SAFE_INTEGER:
                self.error(
                    at, f"Numbers must be between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}"
                )
                return False
            return True
        if isinstance(value, float):
            if not math.isfinite(value):
                self.error(at, "Value must be a finite number")
                return False
            return True
        if value is None:
            self.error(at, "A value is required")
            return False
        self.error(at, "Value must be text, a number, or true/false")
        return False

    def filter_value(self, op: str, obj: Mapping[str, Any], path: str) -> tuple[bool, Any]:
        """Check ``obj["value"]`` for ``op``; returns (ok, normalised value)."""
        at = join(path, "value")
        if op in VALUELESS_OPS:
            return True, None
        value = obj.get("value")
        if op in ("in", "not_in"):
            if not isinstance(value, list | tuple) or not value:
                self.error(at, f"'{op}' needs a non-empty list of values")
                return False, None
            if len(value) > 1000:
                self.error(at, "At most 1000 values")
                return False, None
            # Check every item, so each bad one gets its own error.
            checks = [self._scalar(item, join(at, i)) for i, item in enumerate(value)]
            ok = all(checks)
            return ok, tuple(value)
        if op in ("gt", "gte", "lt", "lte") and (
            isinstance(value, bool) or not (isinstance(value, str) or _is_number(value))
        ):
            self.error(at, f"'{op}' needs a number or a text value (such as a date-time)")
            return False, None
        return self._scalar(value, at, strings_only=op in ("starts_with", "ends_with")), value

    def op(self, raw: Any, at: str, ops: Sequence[str]) -> str | None:
        if raw is None:
            self.error(at, f"An operator is required; use one of: {', '.join(ops)}")
            return None
        if not isinstance(raw, str) or raw not in ops:
            self.error(at, f"Unknown operator '{_quote(raw)}'; use one of: {', '.join(ops)}")
            return None
        return raw

    def filter(self, raw: Any, path: str) -> Filter | None:
        """A ``{"property", "op", "value"}`` object at ``path``."""
        if not isinstance(raw, Mapping):
            self.error(path, "A filter must be an object with property, op and value")
            return None
        before = len(self.errors)
        prop = self.property_name(raw.get("property"), join(path, "property"))
        op = self.op(raw.get("op"), join(path, "op"), FILTER_OPS)
        value: Any = None
        if op is not None:
            _, value = self.filter_value(op, raw, path)
        if len(self.errors) > before or prop is None or op is None:
            return None
        return Filter(prop, op, value)

    def where(
        self, obj: Mapping[str, Any], path: str, key: str = "where"
    ) -> tuple[Filter, ...] | None:
        raw = obj.get(key)
        at = join(path, key)
        if raw is None:
            return ()
        if not isinstance(raw, list | tuple):
            self.error(at, f"'{key}' must be a list of filters")
            return None
        if len(raw) > 100:
            self.error(at, "At most 100 filters")
            return None
        parsed = [self.filter(item, join(at, i)) for i, item in enumerate(raw)]
        if any(f is None for f in parsed):
            return None
        return tuple(f for f in parsed if f is not None)

    def value_filter(self, obj: Mapping[str, Any], path: str, key: str) -> ValueFilter | None:
        raw = obj.get(key)
        at = join(path, key)
        if raw is None:
            self.error(at, f'\'{key}\' is required, e.g. {{"op": "contains", "value": "/pricing"}}')
            return None
        if not isinstance(raw, Mapping):
            self.error(at, f"'{key}' must be an object with op and value")
            return None
        before = len(self.errors)
        op = self.op(raw.get("op"), join(at, "op"), VALUE_FILTER_OPS)
        value: Any = None
        if op is not None:
            _, value = self.filter_value(op, raw, at)
        if op is None or len(self.errors) > before:
            return None
        return ValueFilter(op, value)

    def comparison(
        self, obj: Mapping[str, Any], path: str, key: str, *, minimum: int, required: bool
    ) -> Comparison | None:
        raw = obj.get(key)
        at = join(path, key)
        if raw is None:
            if required:
                self.error(
                    at, f'\'{key}\' is required, e.g. {{"op": "gte", "value": {max(minimum, 1)}}}'
                )
            return None
        if not isinstance(raw, Mapping):
            self.error(at, f"'{key}' must be an object with op and value")
            return None
        op = self.op(raw.get("op"), join(at, "op"), COMPARISON_OPS)
        value = self.get_int(raw, at, "value", minimum=minimum, maximum=MAX_COUNT)
        if op is None or value is None:
            return None
        return Comparison(op, value)

    def sum_comparison(self, obj: Mapping[str, Any], path: str, key: str) -> SumComparison | None:
        raw = obj.get(key)
        at = join(path, key)
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            self.error(at, f"'{key}' must be an object with property, op and value")
            return None
        prop = self.property_name(raw.get("property"), join(at, "property"))
        op = self.op(raw.get("op"), join(at, "op"), COMPARISON_OPS)
        value = raw.get("value")
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.error(join(at, "value"), "'value' must be a number")
            return None
        if not math.isfinite(value) or abs(value) > MAX_SAFE_INTEGER:
            self.error(join(at, "value"), "'value' must be a number")
            return None
        if prop is None or op is None:
            return None
        return SumComparison(prop, op, value)


@dataclass(frozen=True)
class BlockContext:
    """Where a block is being read: its JSON path, entry or inside, and the caller's context."""

    path: str
    at_entry: bool
    reader: Reader
    validation: ValidationContext | None = None

    def at(self, key: str | int) -> str:
        return join(self.path, key)

    def error(self, key: str | int | None, message: str) -> None:
        self.reader.error(self.path if key is None else self.at(key), message)
