"""Whole-project segments: the profiles meeting past-behaviour conditions, from one statement."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connection

from engine.condition_sql import read_observations, segment_query
from engine.conditions import judge
from engine.domain import evaluation
from engine.domain.blocks import Condition

__all__ = ["qualifying", "qualifying_ids"]


def qualifying(
    *,
    project_id: int,
    conditions: Sequence[Condition],
    match: str,
    window_days: int,
    now: datetime,
    chunk: int = 20_000,
) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """The project's qualifying profiles in chunks of (profile id, what the conditions saw).

    One statement (engine.condition_sql.segment_query) makes the verdict in SQL; the detail
    of the step log is rebuilt from the returned observations by the evaluator's own code.
    """
    if not conditions:
        return
    query = segment_query(
        conditions,
        match=match,
        since=now - timedelta(days=window_days),
        now=now,
        project_id=project_id,
    )
    with connection.cursor() as cursor:
        cursor.execute(query.sql, query.params)
        while rows := cursor.fetchmany(chunk):
            out: list[tuple[int, dict[str, Any]]] = []
            for row in rows:
                observed = read_observations(row, query.columns)
                results = [judge(c, seen) for c, seen in zip(conditions, observed, strict=True)]
                _, detail = evaluation.combine(results, match)
                out.append((int(row[0]), {**detail, "window_days": window_days}))
            yield out


def qualifying_ids(
    *,
    project_id: int,
    conditions: Sequence[Condition],
    match: str,
    window_days: int,
    now: datetime,
) -> list[int]:
    """The ids of the project's profiles meeting the conditions, sorted."""
    ids = [
        pid
        for rows in qualifying(
            project_id=project_id,
            conditions=conditions,
            match=match,
            window_days=window_days,
            now=now,
        )
        for pid, _ in rows
    ]
    return sorted(ids)
