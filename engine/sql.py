"""Portable bulk SQL (PostgreSQL and SQLite): multi-row INSERT ... ON CONFLICT ... RETURNING."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
