"""Whole-project segments (one statement, verdict in SQL) qualify whom the evaluator qualifies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.domain import Filter
from engine.domain.blocks import DidCondition, DidNotCondition, ProfileCondition
from engine.domain.fields import Comparison, SumComparison
from engine.models import Event, Profile, Project
from engine.segments import qualifying, qualifying_ids
from tests.factories import EventFactory, ProfileFactory

from .reference import evaluate_batch_in_python
from .test_batch_sql_agrees_with_the_evaluator import CONDITIONS, NOW, PROFILE, WINDOW_DAYS

US = timedelta(microseconds=1)


def reference(project: Project, conditions: list[Any], match: str) -> dict[int, Any]:
    """Profile id -> detail for every qualifying profile, from the pure evaluator."""
    ids = list(Profile.objects.filter(project=project).values_list("id", flat=True))
    verdicts = evaluate_batch_in_python(
        conditions=conditions, match=match, window_days=WINDOW_DAYS, profile_ids=ids, now=NOW
    )
    return {pid: detail for pid, (ok, detail) in verdicts.items() if ok}


def segment(project: Project, conditions: list[Any], match: str = "all") -> dict[int, Any]:
    args: dict[str, Any] = {
        "project_id": project.id,
        "conditions": conditions,
        "match": match,
        "window_days": WINDOW_DAYS,
        "now": NOW,
    }
    found = {pid: detail for rows in qualifying(**args, chunk=2) for pid, detail in rows}
    assert sorted(found) == qualifying_ids(**args)
    assert found == reference(project, conditions, match)
    # The same statement over a batch of profile ids (the goals of active users): the
    # batch's qualifying profiles, with the same detail.
    ids = sorted(Profile.objects.filter(project=project).values_list("id", flat=True))
    for batch in (ids[::2], ids[1:]):
        among = {
            pid: detail
            for rows in qualifying(**{**args, "project_id": None}, profile_ids=batch)
            for pid, detail in rows
        }
        assert among == {pid: detail for pid, detail in found.items() if pid in batch}
    return found


@pytest.fixture
def people(project: Project) -> dict[str, Any]:
    ana = ProfileFactory(project=project, properties={"plan": "pro"})
    bob = ProfileFactory(project=project, properties={"plan": "free"})
    cat = ProfileFactory(project=project, properties={})  # no events at all
    for ts, amount in [(NOW - timedelta(days=1), 200), (NOW - timedelta(days=2), 150)]:
        EventFactory(profile=ana, name="Charged", ts=ts, properties={"amount": amount})
    EventFactory(profile=ana, name="Video Watched", ts=NOW - timedelta(hours=3))
    EventFactory(profile=bob, name="Video Watched", ts=NOW - timedelta(days=WINDOW_DAYS) - US)
    EventFactory(profile=bob, name="Charged", ts=NOW, properties={"amount": 400})
    return {"ana": ana, "bob": bob, "cat": cat}


def names(found: dict[int, Any], people: dict[str, Profile]) -> set[str]:
    return {name for name, p in people.items() if p.id in found}


def test_did_and_did_not_returns_only_those_who_did_and_did_not(
    people: dict[str, Profile],
) -> None:
    conditions = [DidCondition("Video Watched"), DidNotCondition("Subscription Paid")]
    assert names(segment(people["ana"].project, conditions), people) == {"ana"}


def test_a_sum_in_the_window_is_compared_in_sql(people: dict[str, Profile]) -> None:
    conditions = [DidCondition("Charged", sum=SumComparison("amount", "gte", 300))]
    found = segment(people["ana"].project, conditions)
    assert names(found, people) == {"ana", "bob"}
    assert found[people["ana"].id]["conditions"][0]["sum"] == 350.0


def test_did_not_alone_takes_every_profile_without_events_as_one_group(
    people: dict[str, Profile],
) -> None:
    conditions = [DidNotCondition("Charged")]
    assert names(segment(people["ana"].project, conditions), people) == {"cat"}


def test_a_count_that_zero_meets_includes_profiles_without_events(
    people: dict[str, Profile],
) -> None:
    conditions = [DidCondition("Charged", count=Comparison("lt", 2))]
    assert names(segment(people["ana"].project, conditions), people) == {"bob", "cat"}


def test_profile_conditions_judge_the_group_without_events_by_their_properties(
    people: dict[str, Profile],
) -> None:
    conditions = [DidNotCondition("Video Watched"), ProfileCondition(Filter("plan", "neq", "pro"))]
    assert names(segment(people["ana"].project, conditions), people) == {"bob", "cat"}
    any_of = [DidCondition("Video Watched"), ProfileCondition(Filter("plan", "eq", "free"))]
    assert names(segment(people["ana"].project, any_of, "any"), people) == {"ana", "bob"}


def test_profiles_of_other_projects_never_qualify(
    people: dict[str, Profile], other_project: Project
) -> None:
    stranger = ProfileFactory(project=other_project, properties={})
    EventFactory(profile=stranger, name="Video Watched", ts=NOW - timedelta(hours=1))
    found = segment(people["ana"].project, [DidCondition("Video Watched")])
    assert stranger.id not in found
    assert segment(people["ana"].project, [DidNotCondition("Charged")]).keys() == {people["cat"].id}


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    conditions=st.lists(CONDITIONS, min_size=1, max_size=3),
    match=st.sampled_from(["all", "any"]),
    profiles=st.lists(PROFILE, min_size=1, max_size=4),
)
def test_random_segments_agree_with_the_pure_evaluator(
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
        segment(project, conditions, match)
        transaction.set_rollback(True)
