"""The engine's SQL on PostgreSQL and SQLite: every difference between the two lives here.

The moves (engine/runner.py) and the bulk inserts are written once, in SQL both
databases run; what differs is a handful of pieces, each a method of ``Dialect`` with
its PostgreSQL and its SQLite answer (lock clause, "id in a bound list", JSON building,
how a claim, its UPDATE and its step INSERT are chained, which cursor binds the
parameters). ``dialect()`` gives the current connection's. A new difference becomes one
more method here, with both answers, never a ``connection.vendor`` test in a caller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection


def max_params() -> int:
    if connection.vendor == "sqlite":
        try:
            import sqlite3

            connection.ensure_connection()
            raw = connection.connection
            return int(raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))  # type: ignore[union-attr]
        except Exception:
            return 999
    return 65535


def chunks(rows: Sequence[Sequence[Any]], width: int) -> Iterable[Sequence[Sequence[Any]]]:
    size = max(1, min(5000, max_params() // width))
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def json_param(value: Any) -> Any:
    return connection.ops.adapt_json_value(value, DjangoJSONEncoder)


def dt_param(value: Any) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def server_cursor() -> Any:
    """A psycopg cursor that binds parameters on the server, on Django's connection (so in
    its transaction). Django's own cursors quote every parameter into the SQL text, which
    for a list of thousands of ids costs more than the statement itself."""
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)  # type: ignore[arg-type]


def insert_returning(
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: str,
    returning: str,
    types: Sequence[str] | None = None,
) -> list[tuple[Any, ...]]:
    """Insert many rows in as few statements as the backend allows; return RETURNING rows.

    On PostgreSQL, with the columns' ``types`` given, one statement per chunk takes one
    array per column (``INSERT ... SELECT * FROM unnest(...)``): a handful of parameters
    instead of thousands, which the driver would otherwise parse and bind one by one.
    """
    if not rows:
        return []
    if types is not None and connection.vendor == "postgresql":
        return _insert_unnest(
            table, columns, rows, conflict=conflict, returning=returning, types=types
        )
    out: list[tuple[Any, ...]] = []
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for chunk in chunks(rows, len(columns)):
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                + ", ".join([placeholder] * len(chunk))
                + f" ON CONFLICT {conflict} RETURNING {returning}"
            )
            cursor.execute(sql, [value for row in chunk for value in row])
            out.extend(cursor.fetchall())
    return out


def _insert_unnest(
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: str,
    returning: str,
    types: Sequence[str],
) -> list[tuple[Any, ...]]:
    assert len(types) == len(columns)
    # %b: binary parameters (psycopg), so no array element is escaped into text.
    arrays = ", ".join(f"%b::{t}[]" for t in types)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT {conflict} RETURNING {returning}"
    )
    out: list[tuple[Any, ...]] = []
    with server_cursor() as cursor:
        for start in range(0, len(rows), 10000):
            chunk = rows[start : start + 10000]
            cursor.execute(sql, [list(column) for column in zip(*chunk, strict=True)])
            out.extend(cursor.fetchall())
    return out


# --- the dialect ---------------------------------------------------------------------------

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Move:
    """One set-based move of a batch, in SQL both databases run; ``Dialect.claim_and_move``
    chains its parts. Claim the rows (``SELECT columns FROM table e claim``, ``claim``
    being the WHERE, ORDER BY and LIMIT; the dialect adds its lock clause), UPDATE them
    (``SET set_sql``, alias ``e``), and run ``insert``: an INSERT ... SELECT reading the
    claimed rows, as they were before the UPDATE, from ``due``."""

    table: str
    columns: str
    claim: str
    claim_params: Sequence[Any]
    set_sql: str
    set_params: Sequence[Any]
    insert: str
    insert_params: Sequence[Any]


class Dialect:
    """The pieces of SQL that differ between the databases (answers: SQLite's, the
    embedded default's; ``Postgres`` overrides them). SQL handed to these methods names
    the enrollment table's alias ``e`` and writes parameters as ``%s``."""

    vendor = "sqlite"
    # Appended to a claim's SELECT: lock the claimed rows for this transaction, skipping
    # rows another worker holds. SQLite runs one writer at a time (the settings' IMMEDIATE
    # transactions take the write lock up front), so a claim needs no lock clause.
    lock = ""
    # The empty JSON object, as a value for a JSON column.
    empty_json = "'{}'"
    # Bulk writes may use COPY FROM STDIN (engine/event_store.py); otherwise INSERT.
    copies = False
    # Appended to a SELECT of referenced rows: keep them from being deleted until this
    # transaction ends, other updates of them going on (mass entry's profiles and journey,
    # engine/entries.py). SQLite's single writer needs nothing.
    key_share = ""
    # Other connections can write at the same time as this one (SQLite: one writer), so
    # work can be split over connections side by side (mass entry's batches).
    concurrent_writers = False

    def json_value(self) -> str:
        """Placeholder of one bound JSON value (bind ``json_param(value)``)."""
        return "json(%s)"

    def json_object(self, pairs: Sequence[tuple[str, str]]) -> str:
        """A JSON object built in SQL from (key, SQL of a JSON value) pairs; keys are
        plain names written into the SQL. A SQL NULL value is a JSON null."""
        return f"{self._json_object_function}({self._pairs(pairs)})"

    _json_object_function = "json_object"

    def _pairs(self, pairs: Sequence[tuple[str, str]]) -> str:
        for key, _ in pairs:
            if not _KEY.match(key):
                raise ValueError(f"JSON key {key!r} is not a plain name")
        return ", ".join(f"'{key}', {value}" for key, value in pairs)

    def json_field(self, expr: str, key: str) -> str:
        """The JSON value under ``key`` of the JSON object ``expr`` (SQL NULL when missing);
        usable as a value in ``json_object``. The same operator on both (SQLite >= 3.38)."""
        self._pairs([(key, "")])
        return f"{expr} -> '{key}'"

    def json_merge(self, expr: str, obj: str) -> str:
        """The JSON object ``expr`` (SQL NULL: an empty one) with the top-level keys of
        the JSON object ``obj`` set to ``obj``'s values, which must not be null (SQLite's
        merge patch would drop the key)."""
        return f"json_patch(COALESCE({expr}, {self.empty_json}), {obj})"

    def json_without(self, expr: str, key: str) -> str:
        """The JSON object ``expr`` without its top-level ``key`` (a plain name)."""
        self._pairs([(key, "")])
        return f"json_remove({expr}, '$.{key}')"

    def per_profile(
        self,
        table: str,
        select: str,
        where: str,
        params: Sequence[Any],
        profile_ids: Sequence[int],
    ) -> tuple[str, list[Any]]:
        """One row (profile id, *``select``) per profile of ``profile_ids`` with at least
        one row of ``table`` (alias ``e``) matching ``where``: each profile's rows found
        through an index that leads with ``profile_id``. ``select`` holds aggregates and
        starts with ``count(*)``; ``params`` are those of ``select`` then ``where``.
        Returns the statement and its parameters."""
        sql = (
            f"SELECT e.profile_id, {select} FROM {table} e "
            f"WHERE {where} AND {self.in_ids('e.profile_id')} GROUP BY e.profile_id"
        )
        return sql, [*params, self.ids(profile_ids)]

    def in_ids(self, column: str) -> str:
        """``column`` is one of a bound list of ids (bind ``ids(...)``)."""
        return f"{column} IN (SELECT value FROM json_each(%s))"

    def ids(self, ids: Iterable[int]) -> Any:
        """The parameter ``in_ids`` binds: a JSON array on SQLite."""
        return json.dumps([int(i) for i in ids])

    def cursor(self) -> Any:
        """A cursor in Django's transaction that takes ``%s`` placeholders."""
        return connection.cursor()

    def param(self, sql_type: str) -> str:
        """Placeholder of one parameter of ``sql_type`` (PostgreSQL binds on the server and
        needs the type where the statement does not imply it; SQLite needs none)."""
        return "%s"

    def dt(self, value: datetime | None) -> Any:
        """A datetime parameter for ``cursor()``: Django's text form on SQLite."""
        return None if value is None else dt_param(value)

    def rows_from_json(self, fields: Sequence[tuple[str, str]]) -> str:
        """A FROM item ``r`` with one row per object of a JSON array bound as one
        parameter (fields: (name, SQL type)): a batch's varying columns travel as one text,
        parsed by the server."""
        columns = ", ".join(f"json_extract(j.value, '$.{n}') AS {n}" for n, _ in fields)
        return f"(SELECT {columns} FROM json_each(%s) AS j) AS r"

    def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run one statement in the current transaction; its rows (none without a result)."""
        with self.cursor() as cursor:
            cursor.execute(sql, list(params))
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []

    def update_ids(
        self,
        table: str,
        set_sql: str,
        params: Sequence[Any],
        ids: Sequence[int],
        *,
        where: str = "",
    ) -> int:
        """UPDATE the rows of ``table`` (alias ``e``) with these ids (and ``where``, a
        condition without params); returns the rows updated."""
        if not ids:
            return 0
        condition = f"{self.in_ids('e.id')} AND {where}" if where else self.in_ids("e.id")
        with self.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS e SET {set_sql} WHERE {condition}", [*params, self.ids(ids)]
            )
            return int(cursor.rowcount)

    def claim_and_move(self, move: Move) -> list[tuple[Any, ...]]:
        """Run ``move``; returns the claimed rows. SQLite has no data-modifying CTE: three
        statements in the caller's transaction, which holds the write lock (the rows cannot
        change in between); the insert runs before the UPDATE, so ``due`` reads the rows
        as they were claimed."""
        table, columns = move.table, move.columns
        with self.cursor() as cursor:
            cursor.execute(
                f"SELECT {columns} FROM {table} e {move.claim}{self.lock}", list(move.claim_params)
            )
            rows = [tuple(row) for row in cursor.fetchall()]
            if not rows:
                return []
            ids = self.ids(row[0] for row in rows)
            cursor.execute(
                f"WITH due AS (SELECT {columns} FROM {table} e WHERE {self.in_ids('e.id')}) "
                + move.insert,
                [ids, *move.insert_params],
            )
            cursor.execute(
                f"UPDATE {table} AS e SET {move.set_sql} WHERE {self.in_ids('e.id')}",
                [*move.set_params, ids],
            )
        return rows


class Postgres(Dialect):
    vendor = "postgresql"
    lock = " FOR UPDATE OF e SKIP LOCKED"
    empty_json = "'{}'::jsonb"
    copies = True
    key_share = " FOR KEY SHARE"
    concurrent_writers = True
    _json_object_function = "jsonb_build_object"

    def json_value(self) -> str:
        return "%s::jsonb"

    def json_merge(self, expr: str, obj: str) -> str:
        return f"COALESCE({expr}, {self.empty_json}) || {obj}"

    def json_without(self, expr: str, key: str) -> str:
        self._pairs([(key, "")])
        return f"({expr}) - '{key}'"

    def per_profile(
        self,
        table: str,
        select: str,
        where: str,
        params: Sequence[Any],
        profile_ids: Sequence[int],
    ) -> tuple[str, list[Any]]:
        # Driven by the ids, an index probe per profile, whatever the statistics say. The
        # grouped form followed them: over a journey analyzed while (nearly) empty it was a
        # scan of all the journey's stays per batch, so a mass entry's check grew with
        # every batch entered (6 ms for the first batch of 5,000, 120 ms by the 60th).
        sql = (
            f"SELECT p.id, s.* FROM unnest(%s::bigint[]) AS p(id) CROSS JOIN LATERAL "
            f"(SELECT {select} FROM {table} e WHERE e.profile_id = p.id AND {where}) AS s "
            "WHERE s.count > 0"
        )
        return sql, [self.ids(profile_ids), *params]

    def in_ids(self, column: str) -> str:
        # One array parameter, not a list of thousands the driver binds one by one. Typed
        # bigint[] (every id column is bigint): the driver would otherwise pick smallint[]
        # or integer[] from the values, and a cross-type = ANY over a large array is tested
        # element by element instead of through a hash (5x the server time of a mass entry).
        return f"{column} = ANY(%s::bigint[])"

    def ids(self, ids: Iterable[int]) -> Any:
        # An array literal, one text parsed by the server: psycopg dumps a list element by
        # element in Python, testing each with a regular expression (a third of a mass
        # entry's Python time: 1.9 s of 6.9 s for 316,000 users, two lists per batch).
        return "{" + ",".join(str(int(i)) for i in ids) + "}"

    def cursor(self) -> Any:
        return server_cursor()

    def param(self, sql_type: str) -> str:
        return f"%s::{sql_type}"

    def dt(self, value: datetime | None) -> Any:
        return value

    def rows_from_json(self, fields: Sequence[tuple[str, str]]) -> str:
        return "json_to_recordset(%s::json) AS r(" + ", ".join(f"{n} {t}" for n, t in fields) + ")"

    def claim_and_move(self, move: Move) -> list[tuple[Any, ...]]:
        """One statement: the claim, the UPDATE and the insert as data-modifying CTEs."""
        sql = f"""
            WITH due AS (
                SELECT {move.columns} FROM {move.table} e {move.claim}{self.lock}
            ), moved AS (
                -- The claimed rows by primary key (an array, not a join the planner could
                -- answer by hashing the whole table); the insert reads their old values in due.
                UPDATE {move.table} AS e SET {move.set_sql}
                WHERE e.id = ANY(ARRAY(SELECT id FROM due))
            ), inserted AS (
                {move.insert}
            )
            SELECT * FROM due
        """
        with self.cursor() as cursor:
            cursor.execute(sql, [*move.claim_params, *move.set_params, *move.insert_params])
            return [tuple(row) for row in cursor.fetchall()]


_SQLITE = Dialect()
_POSTGRES = Postgres()


def dialect() -> Dialect:
    """The dialect of Django's default connection."""
    return _POSTGRES if connection.vendor == "postgresql" else _SQLITE


def locked(qs: Any) -> Any:
    """Lock a queryset's rows for this transaction, skipping rows another worker holds
    (the ORM's form of ``Dialect.lock``; SQLite's single writer needs nothing)."""
    if connection.features.has_select_for_update_skip_locked:
        return qs.select_for_update(skip_locked=True, of=("self",))
    return qs
