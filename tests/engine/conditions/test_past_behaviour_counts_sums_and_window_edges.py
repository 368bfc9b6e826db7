"""evaluate_batch: counts, sums, did-not, profile conditions, match all/any, window edges, one query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.conditions import evaluate_batch
from engine.domain import Filter
from engine.domain.blocks import DidCondition, DidNotCondition, ProfileCondition
from engine.domain.fields import Comparison, SumComparison
from engine.models import Profile, Project
from tests.factories import EventFactory, ProfileFactory

from .reference import evaluate_batch_in_python

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=7)
US = timedelta(microseconds=1)


def evaluate(conditions: list[Any], ids: list[int], match: str = "all") -> dict[int, Any]:
    args = {
        "conditions": conditions,
        "match": match,
        "window_days": 7,
        "profile_ids": ids,
        "now": NOW,
    }
    result = evaluate_batch(**args)
    assert result == evaluate_batch_in_python(**args)
    return result


@pytest.fixture
def ana(project: Project) -> Profile:
    profile = ProfileFactory(
        project=project, properties={"plan": "pro", "address": {"city": "Pune"}}
    )
    for ts, amount in [
        (SINCE, 10),  # exactly at the window start: counts
        (SINCE - US, 1000),  # just before: does not
        (NOW, 2.5),  # exactly now: counts
        (NOW + US, 1000),  # after now: does not
        (NOW - timedelta(days=1), True),  # a boolean is not a number
        (NOW - timedelta(days=2), "7"),  # nor is a numeric string
    ]:
        EventFactory(profile=profile, name="Purchase", ts=ts, properties={"amount": amount})
    EventFactory(profile=profile, name="Viewed", ts=NOW - timedelta(hours=1), properties={})
    return profile


@pytest.fixture
def bob(project: Project) -> Profile:
    return ProfileFactory(project=project, properties={"plan": "free"})


def test_events_at_the_window_start_count_and_after_now_do_not(ana: Profile) -> None:
    (ok, seen) = evaluate([DidCondition("Purchase", count=Comparison("eq", 4))], [ana.id])[ana.id]
    assert ok
    assert seen == {
        "match": "all",
        "conditions": [{"kind": "did", "event": "Purchase", "count": 4, "met": True}],
        "window_days": 7,
    }


def test_sum_adds_only_json_numbers(ana: Profile) -> None:
    condition = DidCondition("Purchase", sum=SumComparison("amount", "eq", 12.5))
    (ok, seen) = evaluate([condition], [ana.id])[ana.id]
    assert ok
    assert seen["conditions"] == [
        {"kind": "did", "event": "Purchase", "count": 4, "sum": 12.5, "met": True}
    ]


def test_count_and_sum_must_both_hold(ana: Profile) -> None:
    condition = DidCondition(
        "Purchase", count=Comparison("gte", 5), sum=SumComparison("amount", "gt", 1)
    )
    assert evaluate([condition], [ana.id])[ana.id][0] is False


def test_where_filters_narrow_the_counted_events(ana: Profile) -> None:
    where = (Filter("amount", "gte", 2.5),)
    condition = DidCondition("Purchase", where=where, sum=SumComparison("amount", "eq", 12.5))
    (ok, seen) = evaluate([condition], [ana.id])[ana.id]
    assert ok
    assert seen["conditions"][0]["count"] == 2


def test_did_not_holds_without_matching_events_in_the_window(ana: Profile, bob: Profile) -> None:
    result = evaluate([DidNotCondition("Purchase")], [ana.id, bob.id])
    assert result[ana.id][0] is False
    assert result[bob.id] == (
        True,
        {
            "match": "all",
            "conditions": [{"kind": "did_not", "event": "Purchase", "count": 0, "met": True}],
            "window_days": 7,
        },
    )
    where = (Filter("amount", "gt", 100),)  # only outside the window
    assert evaluate([DidNotCondition("Purchase", where=where)], [ana.id])[ana.id][0] is True


def test_profile_conditions_see_the_property_value(ana: Profile, bob: Profile) -> None:
    conditions = [ProfileCondition(Filter("address.city", "eq", "Pune"))]
    result = evaluate(conditions, [ana.id, bob.id])
    assert result[ana.id][1]["conditions"] == [
        {"kind": "profile", "property": "address.city", "value": "Pune", "met": True}
    ]
    assert result[bob.id][1]["conditions"] == [
        {"kind": "profile", "property": "address.city", "value": None, "met": False}
    ]


@pytest.mark.parametrize(
    ("match", "ana_ok", "bob_ok"), [("all", False, False), ("any", True, True)]
)
def test_match_all_needs_every_condition_and_any_one(
    ana: Profile, bob: Profile, match: str, ana_ok: bool, bob_ok: bool
) -> None:
    conditions = [
        DidCondition("Purchase"),
        ProfileCondition(Filter("plan", "eq", "free")),
        DidNotCondition("Viewed"),
    ]
    result = evaluate(conditions, [ana.id, bob.id], match)
    assert (result[ana.id][0], result[bob.id][0]) == (ana_ok, bob_ok)
    assert [c["met"] for c in result[ana.id][1]["conditions"]] == [True, False, False]
    assert [c["met"] for c in result[bob.id][1]["conditions"]] == [False, True, True]


def test_a_profile_id_with_no_row_is_judged_on_nothing(db: Any) -> None:
    conditions = [DidNotCondition("Purchase"), ProfileCondition(Filter("plan", "not_exists"))]
    assert evaluate(conditions, [123456789])[123456789][0] is True


def test_a_batch_is_one_query(
    ana: Profile, bob: Profile, django_assert_max_num_queries: Any
) -> None:
    conditions = [
        DidCondition(
            "Purchase", where=(Filter("amount", "gt", 1),), sum=SumComparison("amount", "gt", 1)
        ),
        DidCondition("Purchase", count=Comparison("gte", 1)),
        DidNotCondition("Viewed", where=(Filter("page", "contains", "/pricing"),)),
        ProfileCondition(Filter("plan", "in", ["pro", "team"])),
        ProfileCondition(Filter('odd"key.é', "exists")),
    ]
    with django_assert_max_num_queries(1):
        result = evaluate_batch(
            conditions=conditions,
            match="all",
            window_days=7,
            profile_ids=[ana.id, bob.id],
            now=NOW,
        )
    assert set(result) == {ana.id, bob.id}


def test_no_conditions_and_no_profiles_need_no_query(
    django_assert_num_queries: Any, db: Any
) -> None:
    with django_assert_num_queries(0):
        assert evaluate_batch(
            conditions=[], match="any", window_days=7, profile_ids=[1], now=NOW
        ) == {1: (False, {"match": "any", "conditions": [], "window_days": 7})}
        assert (
            evaluate_batch(
                conditions=[DidCondition("Purchase")],
                match="all",
                window_days=7,
                profile_ids=[],
                now=NOW,
            )
            == {}
        )
