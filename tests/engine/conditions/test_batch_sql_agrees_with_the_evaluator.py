"""Random events, profiles and conditions: the one-query batch says what the evaluator says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.conditions import evaluate_batch
from engine.domain import Filter
from engine.domain.blocks import DidCondition, DidNotCondition, ProfileCondition
from engine.domain.fields import COMPARISON_OPS, Comparison, SumComparison
from engine.domain.filters import FILTER_OPS, VALUELESS_OPS
from engine.models import Event, Profile, Project

from .reference import evaluate_batch_in_python

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WINDOW_DAYS = 7
SINCE = NOW - timedelta(days=WINDOW_DAYS)
OFFSETS = [SINCE, SINCE + timedelta(hours=1), NOW, SINCE - timedelta(microseconds=1)]
OFFSETS += [NOW + timedelta(microseconds=1), NOW - timedelta(days=1)]

KEYS = ["a", "b", "n", "A", "é", 'q"k', "x[y", "0"]
PATHS = [*KEYS, "n.a", "n.é", 'n.q"k', "a.b", "n.n.a", "n.0", "missing"]
TEXT = st.text(alphabet="aAbZé😀 -0", max_size=4)
# Numbers whose float sums are exact in any order: the database adds in its own order.
NUMBERS = (
    st.integers(-(2**40), 2**40) | st.integers(-64, 64) | st.integers(-64, 64).map(lambda i: i / 8)
)
SCALARS = st.none() | st.booleans() | NUMBERS | TEXT
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=6,
)
PROPERTIES = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=5)
# Filter values may be any finite number: comparisons are exact, only sums are not.
FILTER_SCALARS = st.booleans() | NUMBERS | st.floats(allow_nan=False, allow_infinity=False) | TEXT


@st.composite
def filters(draw: Any) -> Filter:
    op = draw(st.sampled_from(FILTER_OPS))
    path = draw(st.sampled_from(PATHS))
    if op in VALUELESS_OPS:
        return Filter(path, op)
    if op in ("in", "not_in"):
        return Filter(path, op, draw(st.lists(FILTER_SCALARS, min_size=1, max_size=3)))
    if op in ("starts_with", "ends_with"):
        return Filter(path, op, draw(TEXT))
    return Filter(path, op, draw(FILTER_SCALARS))


EVENTS = st.sampled_from(["buy", "view"])
WHERE = st.lists(filters(), max_size=2).map(tuple)
COUNTS = st.builds(Comparison, st.sampled_from(COMPARISON_OPS), st.integers(0, 3))
SUMS = st.builds(
    SumComparison, st.sampled_from(["a", "b", "n.a", "é"]), st.sampled_from(COMPARISON_OPS), NUMBERS
)
CONDITIONS = st.one_of(
    st.builds(DidCondition, EVENTS, WHERE, st.none() | COUNTS, st.none() | SUMS),
    st.builds(DidNotCondition, EVENTS, WHERE),
    st.builds(ProfileCondition, filters()),
)
EVENT = st.tuples(st.sampled_from(["buy", "view", "other"]), st.sampled_from(OFFSETS), PROPERTIES)
PROFILE = st.tuples(PROPERTIES, st.lists(EVENT, max_size=5))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    conditions=st.lists(CONDITIONS, min_size=1, max_size=3),
    match=st.sampled_from(["all", "any"]),
    profiles=st.lists(PROFILE, min_size=1, max_size=3),
)
def test_one_query_per_batch_agrees_with_the_pure_evaluator(
    project: Project, conditions: list[Any], match: str, profiles: list[Any]
) -> None:
    with transaction.atomic():
        stored = Profile.objects.bulk_create(
            Profile(project=project, external_id=f"u{i}", properties=properties)
            for i, (properties, _) in enumerate(profiles)
        )
        Event.objects.bulk_create(
            Event(project=project, profile=profile, name=name, ts=ts, properties=properties)
            for profile, (_, events) in zip(stored, profiles, strict=True)
            for name, ts, properties in events
        )
        ids = [p.id for p in stored] + [10**9]  # and a profile that does not exist
        args = {
            "conditions": conditions,
            "match": match,
            "window_days": WINDOW_DAYS,
            "profile_ids": ids,
            "now": NOW,
        }
        assert evaluate_batch(**args) == evaluate_batch_in_python(**args)
        transaction.set_rollback(True)
