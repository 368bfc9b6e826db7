"""The filter language (``where`` lists, profile conditions, URL/referrer value filters) and its Python predicate.

Semantics (the SQL compiler must reproduce these exactly):

* Lookup: ``property`` is split on ``"."``; each part is a key of a JSON object, starting
  from the top-level properties (``"address.city"`` -> ``props["address"]["city"]``).
  Anything else on the way (a missing key, a list, a scalar) means the property is
  *missing*. A JSON ``null`` value counts as missing too.
* A missing property matches only ``not_exists``, ``neq``, ``not_in`` and ``not_contains``.
* ``neq``, ``not_in`` and ``not_contains`` are exactly the negation of ``eq``, ``in`` and
  ``contains``; ``not_exists`` is the negation of ``exists``.
* ``eq``: JSON equality. Numbers compare by value (``1 == 1.0``); ``true``/``false`` equal
  only booleans (never ``1``/``0``); strings are case-sensitive; a list or object equals
  only an equal list or object (the filter value itself is always a scalar).
* ``gt``/``gte``/``lt``/``lte``: both numbers (booleans are not numbers) -> numeric
  comparison; both strings -> comparison by code point (so ISO 8601 UTC timestamps
  compare by time); any other pair -> no match.
* ``in``: the value is a list of scalars; matches when the property equals (``eq``) one
  of them.
* ``contains``: a string property contains the (string) value as a substring
  (case-sensitive); a list property has an element equal (``eq``) to the value; anything
  else -> no match.
* ``starts_with``/``ends_with``: string property and string value, case-sensitive;
  anything else -> no match.
* ``exists``: the property is present and not null; ``value`` is ignored.

Allowed filter values (checked by the definition validator): a string, a finite number
(integers within +/-2**53) or a boolean; for ``in``/``not_in`` a non-empty list of those;
``starts_with``/``ends_with`` need a string; ``exists``/``not_exists`` take none.

A *value filter* (``ValueFilter``, used by page blocks: ``{"op": "contains", "value":
"/pricing"}``) applies the same operators to one value (the page URL or referrer) instead
of a property; ``exists``/``not_exists`` are not allowed there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FILTER_OPS",
    "NEGATED_OPS",
    "VALUELESS_OPS",
    "VALUE_FILTER_OPS",
    "Filter",
    "ValueFilter",
    "all_match",
    "filter_matches",
    "json_equal",
    "lookup",
    "value_matches",
]

FILTER_OPS: tuple[str, ...] = (
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "not_in",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "exists",
    "not_exists",
)
VALUELESS_OPS: frozenset[str] = frozenset({"exists", "not_exists"})
VALUE_FILTER_OPS: tuple[str, ...] = tuple(op for op in FILTER_OPS if op not in VALUELESS_OPS)
# op -> the positive op it negates
NEGATED_OPS: Mapping[str, str] = {
    "neq": "eq",
    "not_in": "in",
    "not_contains": "contains",
    "not_exists": "exists",
}

_MISSING = object()


@dataclass(frozen=True)
class Filter:
    """``{"property", "op", "value"}``: one condition on a property of a profile or event."""

    property: str
    op: str
    value: Any = None


@dataclass(frozen=True)
class ValueFilter:
    """``{"op", "value"}``: one condition on a single value (page URL, referrer)."""

    op: str
    value: Any


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scalar_equal(a: Any, b: Any) -> bool | None:
    """Equality of two values unless both are containers of one kind (then None)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return None if len(a) == len(b) else False
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return None if a.keys() == b.keys() else False
    return False


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value, booleans only with booleans, containers deeply.

    Walks with a stack, not recursion: a stored value of any depth compares without
    exhausting the interpreter's recursion limit.
    """
    stack: list[tuple[Any, Any]] = [(a, b)]
    while stack:
        x, y = stack.pop()
        equal = _scalar_equal(x, y)
        if equal is False:
            return False
        if equal is None:
            if isinstance(x, Mapping):
                stack.extend((x[k], y[k]) for k in x)
            else:
                stack.extend(zip(x, y, strict=True))
    return True


def lookup(properties: Mapping[str, Any], path: str) -> Any:
    """Return the value at a dotted ``path``, or ``None`` when it is missing."""
    current: Any = properties
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part, _MISSING)
        if current is _MISSING:
            return None
    return current


def _positive(op: str, actual: Any, expected: Any) -> bool:
    """Evaluate a non-negated op on a present (non-null) value."""
    if op == "eq":
        return json_equal(actual, expected)
    if op in ("gt", "gte", "lt", "lte"):
        if _is_number(actual) and _is_number(expected):
            pass
        elif not (isinstance(actual, str) and isinstance(expected, str)):
            return False
        if op == "gt":
            return bool(actual > expected)
        if op == "gte":
            return bool(actual >= expected)
        if op == "lt":
            return bool(actual < expected)
        return bool(actual <= expected)
    if op == "in":
        if not isinstance(expected, list | tuple):
            return False
        return any(json_equal(actual, item) for item in expected)
    if op == "contains":
        if isinstance(actual, str):
            return isinstance(expected, str) and expected in actual
        if isinstance(actual, list | tuple):
            return any(json_equal(item, expected) for item in actual)
        return False
    if op == "starts_with":
        return isinstance(actual, str) and isinstance(expected, str) and actual.startswith(expected)
    if op == "ends_with":
        return isinstance(actual, str) and isinstance(expected, str) and actual.endswith(expected)
    if op == "exists":
        return True
    raise ValueError(f"Unknown filter operator {op!r}")


def _matches(op: str, actual: Any, expected: Any) -> bool:
    base = NEGATED_OPS.get(op)
    if base is not None:
        return not _matches(base, actual, expected)
    if actual is None:
        return False
    return _positive(op, actual, expected)


def filter_matches(f: Filter, properties: Mapping[str, Any]) -> bool:
    """Whether ``properties`` satisfy the filter (semantics in the module docstring)."""
    return _matches(f.op, lookup(properties, f.property), f.value)


def all_match(filters: Iterable[Filter], properties: Mapping[str, Any]) -> bool:
    """Whether every filter holds (an empty list always holds)."""
    return all(filter_matches(f, properties) for f in filters)


def value_matches(vf: ValueFilter, value: Any) -> bool:
    """Whether a single value (a page URL, a referrer) satisfies a value filter."""
    return _matches(vf.op, value, vf.value)
