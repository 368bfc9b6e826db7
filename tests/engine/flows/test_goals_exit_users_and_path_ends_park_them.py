"""PRODUCT §4 Goals (at most 3, any one suffices; action goals real time; past-behaviour
goals at the 12:00 am run) and End of the path (Completed without goals; with goals the
user stays at the last block until a goal or the time-out)."""

from __future__ import annotations

from typing import Any

import pytest

from builder.services import journey_create
from engine.domain import DefinitionInvalid
from tests.engine.flows.conftest import START, define, delay, push, sms

pytestmark = pytest.mark.django_db

BOUGHT = {"id": "bought", "type": "action", "event": "Charged"}
RED_SHOES = {
    "id": "red",
    "type": "action",
    "event": "Charged",
    "where": [{"property": "item", "op": "eq", "value": "Red Nike Shoes"}],
}
SPENT_300 = {
    "id": "spent",
    "type": "past_behaviour",
    "window_days": 7,
    "conditions": [
        {
            "kind": "did",
            "event": "Charged",
            "sum": {"property": "amount", "op": "gte", "value": 300},
        }
    ],
}


def drip(goals: list[dict[str, Any]], **settings: Any) -> dict[str, Any]:
    return define(
        START,
        [push("p1"), delay("wait", "P1D"), push("p2")],
        [("entry", "p1"), ("p1", "wait"), ("wait", "p2")],
        goals=goals,
        **settings,
    )


def test_action_goal_exits_at_once_at_the_block_where_the_user_is(engine: Any) -> None:
    journey = engine.publish(drip([BOUGHT]))
    engine.track("u1", "Start")
    engine.advance(hours=3)
    engine.track("u1", "Charged", amount=10)
    assert engine.at(journey, "u1") == ("exited", "wait", "goal_met")
    assert engine.path(journey, "u1")[-1] == ("wait", "exit")
    engine.advance(days=2)
    assert engine.sent_to(journey, "p2") == []


def test_action_goal_with_a_filter(engine: Any) -> None:
    journey = engine.publish(drip([RED_SHOES]))
    engine.track("u1", "Start")
    engine.track("u1", "Charged", item="Socks")
    assert engine.at(journey, "u1") == ("active", "wait", "")
    engine.track("u1", "Charged", item="Red Nike Shoes")
    assert engine.at(journey, "u1")[2] == "goal_met"


def test_the_entry_event_does_not_meet_the_goal(engine: Any) -> None:
    journey = engine.publish(
        define(
            {"type": "action", "event": "Charged"},
            [push("p1"), delay("w", "P1D")],
            [("entry", "p1"), ("p1", "w")],
            goals=[BOUGHT],
        )
    )
    engine.track("u1", "Charged")
    assert engine.at(journey, "u1") == ("active", "w", "")
    engine.track("u1", "Charged")
    assert engine.at(journey, "u1") == ("exited", "w", "goal_met")


def test_goal_event_before_entry_does_not_count(engine: Any) -> None:
    journey = engine.publish(drip([BOUGHT]))
    engine.track("u1", "Charged")
    engine.advance(minutes=1)
    engine.track("u1", "Start")
    assert engine.at(journey, "u1") == ("active", "wait", "")


def test_any_one_of_three_goals_suffices(engine: Any) -> None:
    goals = [
        BOUGHT,
        {"id": "subscribed", "type": "action", "event": "Subscribed"},
        SPENT_300,
    ]
    journey = engine.publish(drip(goals))
    engine.track("a", "Start")
    engine.track("b", "Start")
    engine.track("b", "Subscribed")
    engine.track("a", "Charged")
    assert engine.at(journey, "a")[2] == "goal_met"
    assert engine.at(journey, "b")[2] == "goal_met"


def test_at_most_three_goals(engine: Any) -> None:
    goals = [{"id": f"g{i}", "type": "action", "event": f"E{i}"} for i in range(4)]
    with pytest.raises(DefinitionInvalid):
        journey_create(project=engine.project, user=engine.user, name="x", definition=drip(goals))


def test_past_behaviour_goal_exits_at_the_midnight_run_not_before(engine: Any) -> None:
    journey = engine.publish(drip([SPENT_300]))
    engine.track("big", "Start")
    engine.track("small", "Start")
    engine.track("big", "Charged", amount=200)
    engine.advance(hours=1)
    engine.track("big", "Charged", amount=150)
    engine.track("small", "Charged", amount=100)
    assert engine.at(journey, "big") == ("active", "wait", "")
    engine.until_midnight()
    assert engine.at(journey, "big") == ("exited", "wait", "goal_met")
    assert engine.at(journey, "small") == ("active", "wait", "")


def test_past_behaviour_goal_counts_history_from_before_entry(engine: Any) -> None:
    """A Past Behaviour goal is a segment over the last n days (not only since entry)."""
    journey = engine.publish(drip([SPENT_300]))
    engine.track("u1", "Charged", amount=400)
    engine.advance(minutes=1)
    engine.track("u1", "Start")
    engine.until_midnight()
    assert engine.at(journey, "u1")[2] == "goal_met"


def test_past_behaviour_goal_by_the_daily_command(engine: Any) -> None:
    journey = engine.publish(drip([SPENT_300]))
    engine.track("u1", "Start")
    engine.track("u1", "Charged", amount=300)
    engine.run_daily()
    assert engine.at(journey, "u1") == ("exited", "wait", "goal_met")


def test_past_behaviour_goal_takes_precedence_over_a_midnight_block(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [
                {
                    "id": "pb",
                    "type": "past_behaviour",
                    "window_days": 7,
                    "conditions": [{"kind": "did", "event": "Charged"}],
                },
                sms("y"),
            ],
            [("entry", "pb"), ("pb", "y", "yes")],
            goals=[SPENT_300],
        )
    )
    engine.track("u1", "Start")
    engine.track("u1", "Charged", amount=500)
    engine.until_midnight()
    assert engine.at(journey, "u1") == ("exited", "pb", "goal_met")
    assert engine.messages(journey) == []


# --- end of the path -------------------------------------------------------------------


def test_without_goals_the_last_block_completes(engine: Any) -> None:
    journey = engine.publish(drip([]))
    engine.track("u1", "Start")
    engine.advance(days=1, seconds=1)
    assert engine.at(journey, "u1") == ("exited", "p2", "completed")


def test_with_goals_the_user_stays_at_the_last_block(engine: Any) -> None:
    journey = engine.publish(drip([BOUGHT]))
    engine.track("u1", "Start")
    engine.advance(days=1, seconds=1)
    assert engine.at(journey, "u1") == ("active", "p2", "")
    assert engine.enrollment(journey, "u1").node_state == "done"
    engine.advance(days=30)
    assert engine.at(journey, "u1") == ("active", "p2", "")
    assert len(engine.messages(journey, "p2")) == 1
    engine.track("u1", "Charged")
    assert engine.at(journey, "u1") == ("exited", "p2", "goal_met")


def test_with_goals_a_no_path_end_also_parks(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [{"id": "seg", "type": "action", "event": "Clicked", "within": "PT1H"}, sms("y")],
            [("entry", "seg"), ("seg", "y", "yes")],
            goals=[BOUGHT],
        )
    )
    engine.track("u1", "Start")
    engine.advance(hours=1, seconds=1)
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.track("u1", "Charged")
    assert engine.at(journey, "u1") == ("exited", "seg", "goal_met")


def test_with_goals_parked_users_meet_a_past_behaviour_goal_at_midnight(engine: Any) -> None:
    journey = engine.publish(drip([SPENT_300]))
    engine.track("u1", "Start")
    engine.advance(days=1, seconds=1)
    assert engine.at(journey, "u1") == ("active", "p2", "")
    engine.track("u1", "Charged", amount=300)
    engine.until_midnight()
    assert engine.at(journey, "u1") == ("exited", "p2", "goal_met")


def test_goal_met_while_parked_and_reentry_allows_a_new_entry(engine: Any) -> None:
    journey = engine.publish(drip([BOUGHT], allow_reentry=True))
    engine.track("u1", "Start")
    engine.track("u1", "Start")  # already in: ignored
    assert len(engine.enrollments(journey, "u1")) == 1
    engine.track("u1", "Charged")
    engine.track("u1", "Start")
    assert len(engine.enrollments(journey, "u1")) == 2


def test_goal_event_after_the_entry_event_in_the_same_batch_exits(engine: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    journey = engine.publish(drip([BOUGHT]))
    now = timezone.now()
    engine.events(
        {"profile_id": "u1", "name": "Start", "ts": (now - timedelta(seconds=10)).isoformat()},
        {"profile_id": "u1", "name": "Charged", "ts": (now - timedelta(seconds=5)).isoformat()},
    )
    assert engine.at(journey, "u1") == ("exited", "wait", "goal_met")
