"""PRODUCT §4 Conversion time: the longest a user may stay; when it runs out the user
exits as Time Out, wherever they are (at the block where they are)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.engine.flows.conftest import START, define, delay, sms

pytestmark = pytest.mark.django_db

GOAL = [{"id": "bought", "type": "action", "event": "Charged"}]


def test_time_out_mid_delay(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [delay("wait", "P3D"), sms("late")],
            [("entry", "wait"), ("wait", "late")],
            conversion_time="P1D",
        )
    )
    engine.track("u1", "Start")
    engine.advance(hours=23, minutes=59)
    assert engine.at(journey, "u1") == ("active", "wait", "")
    engine.advance(minutes=1, seconds=1)
    assert engine.at(journey, "u1") == ("exited", "wait", "time_out")
    assert engine.path(journey, "u1")[-1] == ("wait", "exit")
    engine.advance(days=3)
    assert engine.messages(journey) == []


def test_time_out_while_waiting_at_an_action_block(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [{"id": "seg", "type": "action", "event": "Charged"}, sms("y")],
            [("entry", "seg"), ("seg", "y", "yes")],
            conversion_time="PT2H",
        )
    )
    engine.track("u1", "Start")
    engine.advance(hours=2, seconds=1)
    assert engine.at(journey, "u1") == ("exited", "seg", "time_out")
    engine.track("u1", "Charged")
    assert engine.messages(journey) == []


def test_time_out_before_the_within_of_a_block(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [{"id": "seg", "type": "action", "event": "Charged", "within": "P2D"}, sms("n")],
            [("entry", "seg"), ("seg", "n", "no")],
            conversion_time="P1D",
        )
    )
    engine.track("u1", "Start")
    engine.advance(days=2, seconds=1)
    assert engine.at(journey, "u1") == ("exited", "seg", "time_out")
    assert engine.messages(journey) == []


def test_time_out_while_waiting_for_midnight(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [
                {
                    "id": "pb",
                    "type": "past_behaviour",
                    "window_days": 1,
                    "conditions": [{"kind": "did", "event": "Charged"}],
                },
                sms("n"),
            ],
            [("entry", "pb"), ("pb", "n", "no")],
            conversion_time="PT6H",
        )
    )
    engine.track("u1", "Start")
    engine.advance(hours=6, seconds=1)
    assert engine.at(journey, "u1") == ("exited", "pb", "time_out")
    engine.until_midnight()
    assert engine.messages(journey) == []


def test_time_out_when_parked_at_a_path_end_with_goals(engine: Any) -> None:
    journey = engine.publish(
        define(START, [sms("hello")], [("entry", "hello")], goals=GOAL, conversion_time="P7D")
    )
    engine.track("u1", "Start")
    assert engine.at(journey, "u1") == ("active", "hello", "")
    assert engine.enrollment(journey, "u1").node_state == "done"
    engine.advance(days=6, hours=23)
    assert engine.at(journey, "u1") == ("active", "hello", "")
    engine.advance(hours=1, seconds=1)
    assert engine.at(journey, "u1") == ("exited", "hello", "time_out")


def test_time_out_counts_from_entry_not_from_the_block(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [delay("d1", "PT10H"), delay("d2", "PT10H"), sms("s")],
            [("entry", "d1"), ("d1", "d2"), ("d2", "s")],
            conversion_time="PT15H",
        )
    )
    engine.track("u1", "Start")
    engine.advance(hours=10, seconds=1)
    assert engine.at(journey, "u1") == ("active", "d2", "")
    engine.advance(hours=5)
    assert engine.at(journey, "u1") == ("exited", "d2", "time_out")


def test_without_conversion_time_users_never_time_out(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [{"id": "seg", "type": "action", "event": "Charged"}, sms("y")],
            [("entry", "seg"), ("seg", "y", "yes")],
        )
    )
    engine.track("u1", "Start")
    engine.advance(days=400)
    assert engine.at(journey, "u1") == ("active", "seg", "")


def test_completing_before_the_time_out_is_completed(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [delay("d", "PT1H"), sms("s")],
            [("entry", "d"), ("d", "s")],
            conversion_time="P1D",
        )
    )
    engine.track("u1", "Start")
    engine.advance(hours=1, seconds=1)
    engine.advance(days=2)
    assert engine.at(journey, "u1") == ("exited", "s", "completed")


def test_after_an_outage_due_work_runs_in_time_order(engine: Any) -> None:
    """The ticker was down for two days. The delay ended after 1 hour, long before the
    1-day conversion time: catching up, the user completes rather than timing out."""
    journey = engine.publish(
        define(
            START,
            [delay("d", "PT1H"), sms("s")],
            [("entry", "d"), ("d", "s")],
            conversion_time="P1D",
        )
    )
    engine.track("u1", "Start")
    engine.advance(days=2)
    assert engine.at(journey, "u1") == ("exited", "s", "completed")
