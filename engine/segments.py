"""Whole-project segments: the profiles meeting past-behaviour conditions, from one statement."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction

from engine.condition_sql import SegmentQuery, read_observations, segment_query
from engine.conditions import judge
from engine.domain import evaluation
from engine.domain.blocks import Condition

__all__ = ["qualifying", "qualifying_ids"]


def _run(
    project_id: int | None,
    conditions: Sequence[Condition],
    match: str,
    window_days: int,
    now: datetime,
    profile_ids: Sequence[int] | None = None,
) -> tuple[SegmentQuery, list[tuple[Any, ...]]]:
    """The statement and all its rows. Fetched whole, then judged in chunks by the caller:
    enrollments (their own transactions) run after this statement's transaction ended."""
    query = segment_query(
        conditions,
        match=match,
        since=now - timedelta(days=window_days),
        now=now,
        project_id=project_id,
        profile_ids=profile_ids,
    )
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The per-profile hash aggregate of a million profiles fits in memory.
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(query.sql, query.params)
        return query, cursor.fetchall()


def qualifying(
    *,
    project_id: int | None = None,
    conditions: Sequence[Condition],
    match: str,
    window_days: int,
    now: datetime,
    chunk: int = 20_000,
    profile_ids: Sequence[int] | None = None,
) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """The qualifying profiles of the project (or of ``profile_ids``, a batch: the goals
    of active users) in chunks of (profile id, what the conditions saw).

    One statement (engine.condition_sql.segment_query) makes the verdict in SQL; the detail
    of the step log is rebuilt from the returned observations by the evaluator's own code.
    """
    if not conditions or (profile_ids is not None and not profile_ids):
        return
    query, rows = _run(project_id, conditions, match, window_days, now, profile_ids)
    rows.sort(key=lambda row: int(row[0]))  # profiles enter in id order, as they signed up
    # Profiles that saw the same values share one detail (the same object: read only).
    details: dict[tuple[Any, ...], dict[str, Any]] = {}
    for start in range(0, len(rows), chunk):
        out: list[tuple[int, dict[str, Any]]] = []
        for row in rows[start : start + chunk]:
            key = tuple(row[1:])
            detail = details.get(key)
            if detail is None:
                observed = read_observations(row, query.columns)
                results = [judge(c, seen) for c, seen in zip(conditions, observed, strict=True)]
                _, combined = evaluation.combine(results, match)
                detail = details[key] = {**combined, "window_days": window_days}
            out.append((int(row[0]), detail))
        yield out


def qualifying_ids(
    *,
    project_id: int,
    conditions: Sequence[Condition],
    match: str,
    window_days: int,
    now: datetime,
) -> list[int]:
    """The ids of the project's profiles meeting the conditions, sorted (no detail built)."""
    if not conditions:
        return []
    _, rows = _run(project_id, conditions, match, window_days, now)
    return sorted(int(row[0]) for row in rows)
