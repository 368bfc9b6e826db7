"""Past-behaviour conditions compiled to ONE SQL statement: ``segment_query``, the one
compiler of every Past Behaviour evaluation (entry, midnight, on arrival, goals).

Over a whole project (the entry) or a batch of profile ids (waiting or active users),
the statement returns what each condition observes: the number (and, when asked, the
sum) of the matching events of the window for ``did`` and ``did_not``, and the property
value (as JSON) for ``profile``; with the verdict in SQL it returns only the qualifying
profiles, else every profile of the batch. The step log's detail (and, for a whole batch,
the verdict) is made by the evaluator's own comparison code (``engine/conditions.py``),
so only these observed values come back from the database, never the events themselves.

Event ``where`` filters become SQL that reproduces ``engine/domain/filters.py`` exactly,
on PostgreSQL (``jsonb``) and SQLite (JSON1); ``tests/engine/conditions`` checks the
two against each other. Values are always bound parameters; property path segments are
arbitrary strings, so they are bound too (PostgreSQL ``->``, SQLite ``json_each``) or
quoted only when quoting is unambiguous (SQLite ``$."a"."b"`` for plain ASCII keys).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.db import connection

from engine.domain.blocks import Condition, DidCondition, DidNotCondition, ProfileCondition
from engine.domain.filters import NEGATED_OPS, Filter, lookup
from engine.models import Event, Profile
from engine.sql import dt_param

__all__ = [
    "Observation",
    "SegmentQuery",
    "filter_sql",
    "observe",
    "segment_query",
]

# SQL text and its parameters, in order.
Fragment = tuple[str, list[Any]]
_A = TypeVar("_A")
_FALSE: Fragment = ("FALSE", [])
_ORDER_SQL = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _cat(*parts: str | Fragment) -> Fragment:
    sql: list[str] = []
    params: list[Any] = []
    for part in parts:
        if isinstance(part, str):
            sql.append(part)
        else:
            sql.append(part[0])
            params.extend(part[1])
    return "".join(sql), params


def _param(value: Any, cast: str = "") -> Fragment:
    return "%s" + cast, [value]


def _kind(value: Any) -> str:
    """The JSON kind of a filter value: bool, number, string or null."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"Filter values must be finite numbers, not {value!r}")
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    raise ValueError(f"Unsupported filter value {value!r}")


def _json_scalar(value: Any) -> str:
    """JSON text of a scalar for ``::jsonb``; an integral float is written as its exact
    integer, since jsonb compares decimals and Python compares a float's exact value."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value)


# -- a property looked up in a JSON column ---------------------------------------------


@dataclass(frozen=True)
class _PgRef:
    """``jsonb`` value at the path, SQL NULL when missing; ``->`` with a text key is NULL
    on anything but an object, which is the lookup of the filter language."""

    value: Fragment

    def _typeof(self) -> Fragment:
        return _cat("jsonb_typeof(", self.value, ")")

    def _text(self) -> Fragment:
        return _cat("(", self.value, " #>> '{}')")

    def present(self) -> Fragment:
        return _cat(self._typeof(), " <> 'null'")

    def equals(self, value: Any) -> Fragment:
        kind = _kind(value)
        if kind == "string":
            return _cat(
                "(", self._typeof(), " = 'string' AND ", self._text(), " = ", _param(value), ")"
            )
        if kind == "null":
            return _FALSE
        return _cat("(", self.value, " = ", _param(_json_scalar(value), "::jsonb"), ")")

    def order(self, op: str, value: Any) -> Fragment:
        kind = _kind(value)
        if kind == "number":
            # jsonb orders two numbers by value (numeric, exact).
            right = _param(_json_scalar(value), "::jsonb")
            return _cat("(", self._typeof(), " = 'number' AND ", self.value, f" {op} ", right, ")")
        if kind == "string":
            # "C" compares UTF-8 bytes, i.e. code points.
            text = _cat(self._text(), ' COLLATE "C"')
            return _cat(
                "(", self._typeof(), " = 'string' AND ", text, f" {op} ", _param(value), ")"
            )
        return _FALSE

    def contains(self, value: Any) -> Fragment:
        kind = _kind(value)
        element = "[" + (json.dumps(value) if kind == "string" else _json_scalar(value)) + "]"
        in_array = _cat(self.value, " @> ", _param(element, "::jsonb"))
        if kind == "string":
            return _cat(
                "(CASE ", self._typeof(),
                " WHEN 'string' THEN strpos(", self._text(), ", ", _param(value), ") > 0",
                " WHEN 'array' THEN ", in_array, " ELSE FALSE END)",
            )  # fmt: skip
        return _cat("(", self._typeof(), " = 'array' AND ", in_array, ")")

    def starts_with(self, value: str) -> Fragment:
        return _cat(
            "(",
            self._typeof(),
            " = 'string' AND starts_with(",
            self._text(),
            ", ",
            _param(value),
            "))",
        )

    def ends_with(self, value: str) -> Fragment:
        return _cat(
            "(", self._typeof(), " = 'string' AND right(", self._text(), ", char_length(",
            _param(value), ")) = ", _param(value), ")",
        )  # fmt: skip

    def number(self) -> Fragment:
        return _cat("CASE WHEN ", self._typeof(), " = 'number' THEN (", self.value, ")::float8 END")


@dataclass(frozen=True)
class _SqliteRef:
    """``json_type`` (NULL when missing) and SQL value (JSON text for arrays/objects)."""

    type: Fragment
    value: Fragment

    def present(self) -> Fragment:
        return _cat(self.type, " <> 'null'")

    def _typed(self, kind: str) -> Fragment:
        if kind == "string":
            return _cat(self.type, " = 'text'")
        return _cat(self.type, " IN ('integer', 'real')")

    def equals(self, value: Any) -> Fragment:
        kind = _kind(value)
        if kind == "bool":
            return _cat(self.type, " = 'true'" if value else " = 'false'")
        if kind == "null":
            return _FALSE
        return _cat("(", self._typed(kind), " AND ", self.value, " = ", _param(value), ")")

    def order(self, op: str, value: Any) -> Fragment:
        kind = _kind(value)
        if kind not in ("number", "string"):
            return _FALSE
        # Text compares with the BINARY collation: UTF-8 bytes, i.e. code points.
        return _cat("(", self._typed(kind), " AND ", self.value, f" {op} ", _param(value), ")")

    def contains(self, value: Any) -> Fragment:
        kind = _kind(value)
        if kind == "bool":
            element: Fragment = ("j.type = 'true'" if value else "j.type = 'false'", [])
        elif kind == "null":
            element = ("j.type = 'null'", [])
        else:
            typed = "j.type = 'text'" if kind == "string" else "j.type IN ('integer', 'real')"
            element = _cat(typed, " AND j.atom = ", _param(value))
        # CASE, not AND: json_each() must never see a value that is not JSON text.
        in_array = _cat(
            "EXISTS (SELECT 1 FROM json_each(", self.value, ") AS j WHERE ", element, ")"
        )
        if kind == "string":
            return _cat(
                "(CASE ", self.type, " WHEN 'text' THEN instr(", self.value, ", ", _param(value),
                ") > 0 WHEN 'array' THEN ", in_array, " ELSE FALSE END)",
            )  # fmt: skip
        return _cat("(CASE ", self.type, " WHEN 'array' THEN ", in_array, " ELSE FALSE END)")

    def starts_with(self, value: str) -> Fragment:
        return _cat(
            "(", self.type, " = 'text' AND substr(", self.value, ", 1, length(", _param(value),
            ")) = ", _param(value), ")",
        )  # fmt: skip

    def ends_with(self, value: str) -> Fragment:
        return _cat(
            "(", self.type, " = 'text' AND (length(", _param(value), ") = 0 OR substr(",
            self.value, ", -length(", _param(value), ")) = ", _param(value), "))",
        )  # fmt: skip

    def number(self) -> Fragment:
        return _cat("CASE WHEN ", self._typed("number"), " THEN ", self.value, " END")


def _plain(key: str) -> bool:
    """A key SQLite's ``$."key"`` path reads the same in every version: printable ASCII
    without quotes or backslashes (escaped keys compare raw in SQLite < 3.45)."""
    return all(" " <= ch <= "~" and ch not in '"\\' for ch in key)


def _sqlite_path(parts: Sequence[str]) -> str:
    return "$" + "".join(f'."{part}"' for part in parts)


def _sqlite_ref(doc: Fragment, parts: Sequence[str]) -> _SqliteRef:
    plain = _plain_prefix(parts)
    if plain == len(parts):
        path = _param(_sqlite_path(parts))
        return _SqliteRef(
            _cat("json_type(", doc, ", ", path, ")"), _cat("json_extract(", doc, ", ", path, ")")
        )
    if plain:
        path = _param(_sqlite_path(parts[:plain]))
        doc = _cat(
            "(CASE WHEN json_type(", doc, ", ", path, ") = 'object' THEN json_extract(",
            doc, ", ", path, ") END)",
        )  # fmt: skip

    # Any other key: json_each() yields each member's decoded key, compared as a bound text
    # (array members have integer keys and never equal it; a scalar has a NULL key).
    def member(column: str) -> Fragment:
        return _cat(
            f"(SELECT j.{column} FROM json_each(", doc, ") AS j WHERE j.key = ",
            _param(parts[plain]), ")",
        )  # fmt: skip

    ref = _SqliteRef(member("type"), member("value"))
    rest = parts[plain + 1 :]
    if not rest:
        return ref
    nested = _cat("(CASE WHEN ", ref.type, " = 'object' THEN ", ref.value, " END)")
    return _sqlite_ref(nested, rest)


def _plain_prefix(parts: Sequence[str]) -> int:
    plain = 0
    while plain < len(parts) and _plain(parts[plain]):
        plain += 1
    return plain


def _pg_value(doc: str, parts: Sequence[str]) -> Fragment:
    value: Fragment = (doc, [])
    for part in parts:
        value = _cat(value, " -> ", _param(part, "::text"))
    return _cat("(", value, ")")


def _ref(doc: str, path: str, vendor: str) -> _PgRef | _SqliteRef:
    parts = path.split(".")
    if vendor == "postgresql":
        return _PgRef(_pg_value(doc, parts))
    return _sqlite_ref((doc, []), parts)


def _positive(op: str, ref: _PgRef | _SqliteRef, value: Any) -> Fragment:
    if op == "eq":
        sql = ref.equals(value)
    elif op in _ORDER_SQL:
        sql = ref.order(_ORDER_SQL[op], value)
    elif op == "in":
        if not isinstance(value, list | tuple) or not value:
            return _FALSE
        ors = [ref.equals(item) for item in value]
        sql = _cat("(", *[p for i, f in enumerate(ors) for p in ((" OR ", f) if i else (f,))], ")")
    elif op == "contains":
        sql = ref.contains(value)
    elif op in ("starts_with", "ends_with"):
        if not isinstance(value, str):
            return _FALSE
        sql = ref.starts_with(value) if op == "starts_with" else ref.ends_with(value)
    elif op == "exists":
        sql = ref.present()
    else:
        raise ValueError(f"Unknown filter operator {op!r}")
    # Missing or mismatched values give NULL or FALSE above; either way, no match.
    return _cat("COALESCE(", sql, ", FALSE)")


def filter_sql(f: Filter, doc: str, vendor: str | None = None) -> Fragment:
    """A filter on the JSON column ``doc`` as a boolean SQL expression (never NULL)."""
    ref = _ref(doc, f.property, vendor or connection.vendor)
    base = NEGATED_OPS.get(f.op)
    if base is not None:
        return _cat("(NOT ", _positive(base, ref, f.value), ")")
    return _positive(f.op, ref, f.value)


# -- the batch statement ---------------------------------------------------------------


@dataclass
class Observation:
    """What one condition saw for one profile."""

    count: int = 0
    total: float | None = None
    value: Any = None


@dataclass(frozen=True)
class _Column:
    """Where a condition's observations are in a result row."""

    count: int | None = None
    total: int | None = None
    value: int | None = None
    rest: str = ""  # a path still to look up in Python in the returned value


def _ids(column: str, ids: Sequence[int], vendor: str) -> Fragment:
    if vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(list(ids))]


def observe(
    conditions: Sequence[Condition],
    *,
    since: datetime,
    now: datetime,
    profile_ids: Sequence[int],
) -> dict[int, list[Observation]]:
    """Profile id -> one observation per condition, for every profile id given: the
    ``segment_query`` statement over these ids, every profile returned (``every``)."""
    if not profile_ids or not conditions:
        return {pid: [Observation() for _ in conditions] for pid in profile_ids}
    query = segment_query(
        conditions, match="all", since=since, now=now, profile_ids=profile_ids, every=True
    )
    out = {
        pid: [Observation(total=None if c.total is None else 0.0) for c in query.columns]
        for pid in profile_ids
    }
    with connection.cursor() as cursor:
        cursor.execute(query.sql, query.params)
        rows = cursor.fetchall()
    for row in rows:
        out[row[0]] = read_observations(row, query.columns)
    return out


# -- the whole-project statement: the verdict in SQL -------------------------------------

_COMPARE_SQL = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


@dataclass(frozen=True)
class SegmentQuery:
    """A statement returning one row per qualifying profile (or, with ``every``, per profile
    of the given ids): its id, then the observations."""

    sql: str
    params: list[Any]
    columns: tuple[_Column, ...]


def _zero_verdict(conditions: Sequence[Condition], match: str) -> bool | None:
    """The verdict for a profile with no matching event, when it does not depend on the
    profile's properties (None when it does): all such profiles are one group."""
    from engine.domain.evaluation import judge

    known = [
        judge(c, count=0, total=0.0, profile={})[0]
        for c in conditions
        if not isinstance(c, ProfileCondition)
    ]
    unknown = len(known) < len(conditions)
    if match == "all":
        return False if not all(known) else (None if unknown else True)
    return True if any(known) else (None if unknown else False)


def segment_query(
    conditions: Sequence[Condition],
    *,
    match: str,
    since: datetime,
    now: datetime,
    project_id: int | None = None,
    profile_ids: Sequence[int] | None = None,
    every: bool = False,
    vendor: str | None = None,
) -> SegmentQuery:
    """One statement over a whole project (``project_id``) or over a batch of profiles
    (``profile_ids``): the ids of the profiles that qualify, each with what its conditions
    saw. With ``every`` (a batch only), every profile of the batch comes back, qualifying
    or not, and the caller judges them from the observations (``read_observations``).

    The one compiler of past-behaviour conditions: the Past Behaviour entry (whole
    project), the midnight evaluations and on-arrival decisions (``every``, per batch of
    waiting users) and the goals (per batch of active users) all run it.

    The window's events of the conditions' names are read once from the events index on
    ``(project_id, name, ts)`` (covering ``profile_id``), aggregated per profile with one
    ``FILTER`` aggregate per distinct count or sum, and judged in SQL (counts and sums
    compared, profile filters through ``filter_sql``); only the qualifying rows come back.
    Profiles without a matching event are judged as one group: skipped when the verdict
    for no events is false whatever the profile, else read from the profiles table with an
    anti-join on the aggregate (and their profile filters, if any). Over a batch, the
    events are read by profile id instead (``event_profile_name_ts``).
    """
    vendor = vendor or connection.vendor
    if (project_id is None) == (profile_ids is None):
        raise ValueError("segment_query needs a project or a batch of profile ids, not both")
    if every and profile_ids is None:
        raise ValueError("every profile is returned for a batch of ids only")
    q = connection.ops.quote_name
    properties = q("properties")
    names: list[str] = []
    aggregates: dict[tuple[str, str], tuple[Fragment, str]] = {}

    def aggregate(fragment: Fragment) -> str:
        key = (fragment[0], json.dumps(fragment[1], default=str))
        if key not in aggregates:
            alias = f"a{len(aggregates)}"
            aggregates[key] = (_cat(fragment, f" AS {alias}"), alias)
        return aggregates[key][1]

    # Per condition: (count alias, total alias) or the profile filter.
    plan: list[tuple[str | None, str | None]] = []
    for condition in conditions:
        if isinstance(condition, ProfileCondition):
            plan.append((None, None))
            continue
        if condition.event not in names:
            names.append(condition.event)
        plan.append(_event_aggregates(condition, properties, vendor, aggregate))
    count_aliases = {alias for key, (_, alias) in aggregates.items() if key[0].startswith("count(")}
    has_profile = any(isinstance(c, ProfileCondition) for c in conditions)
    float_cast = "::float8" if vendor == "postgresql" else ""

    def verdict(zero: bool) -> Fragment:
        parts: list[Fragment] = []
        for condition, (count, total) in zip(conditions, plan, strict=True):
            if isinstance(condition, ProfileCondition):
                parts.append(filter_sql(condition.filter, f"p.{properties}", vendor))
                continue
            n = "0" if zero else f"a.{count}"
            if isinstance(condition, DidNotCondition):
                parts.append((f"({n} = 0)", []))
                continue
            checks: list[Fragment] = []
            effective = condition.effective_count
            if effective is not None:
                checks.append((f"{n} {_COMPARE_SQL[effective.op]} %s", [effective.value]))
            if condition.sum is not None:
                t = "0.0" if zero else f"COALESCE(a.{total}, 0.0)"
                op = _COMPARE_SQL[condition.sum.op]
                checks.append((f"{t} {op} %s{float_cast}", [float(condition.sum.value)]))
            parts.append(_cat("(", *_joined(checks, " AND "), ")"))
        joiner = " AND " if match == "all" else " OR "
        return _cat("(", *_joined(parts, joiner), ")")

    def observed(zero: bool) -> tuple[list[Fragment], tuple[_Column, ...]]:
        selected: list[Fragment] = []
        columns: list[_Column] = []
        position = 1
        by_alias: dict[str, int] = {}
        for _, alias in aggregates.values():
            blank = "0" if alias in count_aliases else "NULL"
            selected.append((blank if zero else f"a.{alias}", []))
            by_alias[alias] = position
            position += 1
        for condition, (count, total) in zip(conditions, plan, strict=True):
            if isinstance(condition, ProfileCondition):
                value, rest = _profile_value(condition, vendor, f"p.{properties}")
                selected.append(value)
                columns.append(_Column(value=position, rest=rest))
                position += 1
            else:
                columns.append(
                    _Column(
                        count=by_alias[count] if count else None,
                        total=by_alias[total] if total else None,
                    )
                )
        return selected, tuple(columns)

    events = q(Event._meta.db_table)
    profiles = q(Profile._meta.db_table)
    cte: list[str | Fragment] = ["WITH a AS (SELECT e.profile_id"]
    for fragment, _ in aggregates.values():
        cte += [", ", fragment]
    cte += [
        f" FROM {events} AS e WHERE ",
        _scope("e.project_id", "e.profile_id", project_id, profile_ids, vendor),
        f" AND e.{q('name')} IN (" + ", ".join(["%s"] * len(names)) + ")",
        ("", names),
        " AND e.ts >= ",
        _param(dt_param(since)),
        " AND e.ts <= ",
        _param(dt_param(now)),
        " GROUP BY e.profile_id)",
    ]
    pieces: list[str | Fragment] = []
    selected, columns = observed(zero=False)
    if every:
        assert profile_ids is not None
        pieces += cte if names else []
        pieces += [" SELECT p.id", *[p for s in selected for p in (", ", s)]]
        pieces.append(f" FROM {profiles} AS p")
        if names:
            pieces.append(" LEFT JOIN a ON a.profile_id = p.id")
        pieces += [" WHERE ", _ids("p.id", profile_ids, vendor)]
        sql, params = _cat(*pieces)
        return SegmentQuery(sql.lstrip(), params, columns)
    if names:
        pieces += cte
        pieces += [" SELECT a.profile_id", *[p for s in selected for p in (", ", s)]]
        pieces.append(" FROM a")
        if has_profile:
            pieces.append(f" JOIN {profiles} AS p ON p.id = a.profile_id")
        pieces += [" WHERE ", verdict(zero=False)]
    group = _zero_verdict(conditions, match)
    if group is not False:
        zero_selected, _ = observed(zero=True)
        if pieces:
            pieces.append(" UNION ALL")
        pieces += [" SELECT p.id", *[p for s in zero_selected for p in (", ", s)]]
        pieces += [
            f" FROM {profiles} AS p WHERE ",
            _scope("p.project_id", "p.id", project_id, profile_ids, vendor),
        ]
        if names:
            pieces.append(" AND NOT EXISTS (SELECT 1 FROM a WHERE a.profile_id = p.id)")
        if group is None:
            pieces += [" AND ", verdict(zero=True)]
    if not pieces:
        pieces = ["SELECT 1 WHERE 1 = 0"]
    sql, params = _cat(*pieces)
    return SegmentQuery(sql, params, columns)


def _scope(
    project_column: str,
    id_column: str,
    project_id: int | None,
    profile_ids: Sequence[int] | None,
    vendor: str,
) -> Fragment:
    if profile_ids is not None:
        return _ids(id_column, profile_ids, vendor)
    return _cat(f"{project_column} = ", _param(project_id))


def _joined(parts: Sequence[Fragment], joiner: str) -> list[str | Fragment]:
    out: list[str | Fragment] = []
    for i, part in enumerate(parts):
        if i:
            out.append(joiner)
        out.append(part)
    return out


def _profile_value(condition: ProfileCondition, vendor: str, doc: str) -> tuple[Fragment, str]:
    """The profile property a condition looks at (JSON text), and any path left for Python."""
    parts = condition.filter.property.split(".")
    if vendor == "postgresql":
        return _cat("(", _pg_value(doc, parts), ")::text"), ""
    plain = _plain_prefix(parts)
    value: Fragment = (doc, [])
    if plain:
        value = _cat(value, " -> ", _param(_sqlite_path(parts[:plain])))
    return value, ".".join(parts[plain:])


def read_observations(row: Sequence[Any], columns: Sequence[_Column]) -> list[Observation]:
    """One observation per condition from a result row (``segment_query``'s columns)."""
    out: list[Observation] = []
    for column in columns:
        observation = Observation(total=None if column.total is None else 0.0)
        if column.count is not None:
            observation.count = int(row[column.count] or 0)
        if column.total is not None:
            observation.total = float(row[column.total] or 0.0)
        if column.value is not None:
            text = row[column.value]
            value: Any = None if text is None else json.loads(text)
            observation.value = lookup(value, column.rest) if column.rest else value
        out.append(observation)
    return out


def _event_aggregates(
    condition: Any, properties: str, vendor: str, aggregate: Callable[[Fragment], _A]
) -> tuple[_A, _A | None]:
    """The count (and for a sum condition, the total) of a condition's matching events,
    as ``aggregate`` columns over the events ``e`` of the query."""
    q = connection.ops.quote_name
    where = _cat(
        f"e.{q('name')} = ",
        _param(condition.event),
        *[
            piece
            for f in condition.where
            for piece in (" AND ", filter_sql(f, f"e.{properties}", vendor))
        ],
    )
    count = aggregate(_cat("count(*) FILTER (WHERE ", where, ")"))
    total = None
    if isinstance(condition, DidCondition) and condition.sum is not None:
        number = _ref(f"e.{properties}", condition.sum.property, vendor).number()
        # SQLite's total() is a float sum that never overflows, like the evaluator's.
        function = "sum" if vendor == "postgresql" else "total"
        total = aggregate(_cat(f"{function}(", number, ") FILTER (WHERE ", where, ")"))
    return count, total
