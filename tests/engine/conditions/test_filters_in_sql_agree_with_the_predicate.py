"""Every filter operator, compiled to SQL over stored events, says what filter_matches says."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.db import connection

from engine.condition_sql import filter_sql
from engine.domain import Filter, filter_matches
from engine.domain.filters import FILTER_OPS, VALUELESS_OPS
from engine.models import Event
from tests.factories import EventFactory, ProfileFactory

DOCS: list[dict[str, Any]] = [
    {
        "s": "Red Nike",
        "empty": "",
        "digits": "120",
        "uni": "é😀",
        "upper": "Zeta",
        "ts": "2026-11-28T10:00:00Z",
        "i": 120,
        "zero": 0,
        "one": 1,
        "neg": -3,
        "half": 0.5,
        "tenth": 0.1,
        "awkward": 0.30000000000000004,
        "safe": 2**53,
        "huge": 2**60 + 1,
        "t": True,
        "f": False,
        "nothing": None,
        "list": ["sale", "New", 3, 1.5, True, None, ["x"], {"k": 1}],
        "nums": [0, 1.0, 120],
        "empty_list": [],
        "obj": {"city": "Pune", "geo": {"lat": 18.5}, "tags": ["a"], "é": "accent"},
        'q"k': "quoted",
        "x[y": 7,
        "é": "accent",
        "0": "zero-key",
        "idx": [10, 20],
        "sp ace": "s",
        "back\\slash": 1,
        "$": "dollar",
        "nest": {'q"k': {"v": 5, "s": "deep"}, "é": {"v": "é"}, "n": None},
    },
    {},
    {"obj": "not an object", "s": 5, "i": "120", "t": 1, "list": "sale, New", "nest": [1, 2]},
]

PATHS = [
    *DOCS[0].keys(),
    "missing",
    "obj.city",
    "obj.geo.lat",
    "obj.geo",
    "obj.tags",
    "obj.é",
    "obj.missing",
    "s.x",
    "list.0",
    "idx.1",
    "idx.-1",
    'nest.q"k.v',
    'nest.q"k.s',
    'nest.q"k.missing',
    "nest.é.v",
    "nest.n",
    "nest.n.x",
    "nest.0",
]

SCALARS: list[Any] = [
    *["Red Nike", "red nike", "Red", "Nike", "", "120", "é", "😀", "Z", "a", "sale", "New"],
    *["2026-11-28T09:00:00Z", "quoted", "Pune", "zero-key", "accent", "deep", "x"],
    *[120, 120.0, 119.5, 121, 0, 0.0, 1, -3, -3.5, 0.5, 0.1, 0.3, 0.30000000000000004],
    *[2**53, 2.0**53, 2.0**60, 1e300, -1e300, 18.5, 3, 1.5, 10, 20, 5, 7],
    True,
    False,
]
LISTS: list[Any] = [["sale", 120], [True], [0, "x"], [1.5, "Pune"], [False, 0], ["Red Nike"], [5]]


def cases(op: str) -> list[Filter]:
    if op in VALUELESS_OPS:
        return [Filter(path, op) for path in PATHS]
    values = LISTS + SCALARS if op in ("in", "not_in") else SCALARS
    if op == "contains" or op == "not_contains":
        values = [*values, None]
    return [Filter(path, op, value) for path, value in itertools.product(PATHS, values)]


@pytest.fixture
def stored(db: Any) -> list[Event]:
    profile = ProfileFactory()
    # Stored and read back: the predicate sees what the database holds.
    return [Event.objects.get(id=EventFactory(profile=profile, properties=doc).id) for doc in DOCS]


@pytest.mark.parametrize("op", FILTER_OPS)
def test_the_sql_of_each_operator_matches_the_python_predicate(
    stored: list[Event], op: str
) -> None:
    filters = cases(op)
    disagreements = []
    with connection.cursor() as cursor:
        for start in range(0, len(filters), 150):
            chunk = filters[start : start + 150]
            sqls, params = [], []
            for f in chunk:
                sql, ps = filter_sql(f, "e.properties")
                sqls.append(f"CASE WHEN {sql} THEN 1 ELSE 0 END")
                params += ps
            cursor.execute(
                f"SELECT e.id, {', '.join(sqls)} FROM engine_event AS e WHERE e.id IN (%s, %s, %s)"
                " ORDER BY e.id",
                [*params, *(e.id for e in stored)],
            )
            for event, row in zip(stored, cursor.fetchall(), strict=True):
                assert row[0] == event.id
                for f, got in zip(chunk, row[1:], strict=True):
                    expected = filter_matches(f, event.properties)
                    if bool(got) != expected:
                        disagreements.append((event.properties.get(f.property.split(".")[0]), f))
    assert disagreements == []


def test_the_table_covers_every_value_type_and_path_shape() -> None:
    kinds = {type(v).__name__ for v in SCALARS}
    assert kinds == {"str", "int", "float", "bool"}
    assert any('"' in p for p in PATHS)
    assert any("." in p for p in PATHS)
