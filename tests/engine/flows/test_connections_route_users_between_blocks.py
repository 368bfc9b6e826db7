"""PRODUCT §4 Connections: segment -> engage, engage -> segment, engage -> engage (with or
without a delay), segment -> segment."""

from __future__ import annotations

from typing import Any

import pytest

from tests.engine.flows.conftest import START, define, delay, push, sms

pytestmark = pytest.mark.django_db


def test_segment_to_engage_on_both_paths(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [
                {"id": "seg", "type": "action", "event": "Charged", "within": "PT1H"},
                push("a"),
                sms("b"),
            ],
            [("entry", "seg"), ("seg", "a", "yes"), ("seg", "b", "no")],
        )
    )
    engine.track("buyer", "Start")
    engine.track("idle", "Start")
    engine.track("buyer", "Charged")
    engine.advance(hours=1, seconds=1)
    assert engine.sent_to(journey, "a") == ["buyer"]
    assert engine.sent_to(journey, "b") == ["idle"]


def test_a_segment_with_only_a_yes_path_ends_the_no_users_there(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [{"id": "seg", "type": "action", "event": "Charged", "within": "PT1H"}, push("a")],
            [("entry", "seg"), ("seg", "a", "yes")],
        )
    )
    engine.track("idle", "Start")
    engine.advance(hours=1, seconds=1)
    assert engine.at(journey, "idle") == ("exited", "seg", "completed")
    assert engine.messages(journey) == []


def test_engage_then_segment_after_a_day(engine: Any) -> None:
    """The seed: after a push, wait a day, check whether they transacted: A or B."""
    journey = engine.publish(
        define(
            START,
            [
                push("push1"),
                delay("day", "P1D"),
                {
                    "id": "bought",
                    "type": "past_behaviour",
                    "window_days": 1,
                    "evaluate": "on_arrival",
                    "conditions": [{"kind": "did", "event": "Charged"}],
                },
                sms("pathA"),
                sms("pathB"),
            ],
            [
                ("entry", "push1"),
                ("push1", "day"),
                ("day", "bought"),
                ("bought", "pathA", "yes"),
                ("bought", "pathB", "no"),
            ],
        )
    )
    engine.track("buyer", "Start")
    engine.track("idle", "Start")
    assert engine.sent_to(journey, "push1") == ["buyer", "idle"]
    engine.advance(hours=5)
    engine.track("buyer", "Charged")
    engine.advance(hours=19, seconds=1)
    assert engine.sent_to(journey, "pathA") == ["buyer"]
    assert engine.sent_to(journey, "pathB") == ["idle"]
    assert engine.path(journey, "idle") == [
        ("entry", "yes"),
        ("push1", "next"),
        ("day", "next"),
        ("bought", "no"),
        ("pathB", "next"),
    ]


def test_engage_to_engage_immediately(engine: Any) -> None:
    journey = engine.publish(
        define(START, [push("p1"), sms("s1")], [("entry", "p1"), ("p1", "s1")])
    )
    engine.track("u1", "Start")
    assert engine.sent_to(journey, "p1") == ["u1"]
    assert engine.sent_to(journey, "s1") == ["u1"]
    assert engine.at(journey, "u1") == ("exited", "s1", "completed")


def test_engage_to_engage_with_a_delay(engine: Any) -> None:
    """The seed: after a push, wait 3 days, send another push."""
    journey = engine.publish(
        define(
            START,
            [push("p1"), delay("wait", "P3D"), push("p2")],
            [("entry", "p1"), ("p1", "wait"), ("wait", "p2")],
        )
    )
    engine.track("u1", "Start")
    engine.advance(days=2, hours=23, minutes=59)
    assert engine.sent_to(journey, "p2") == []
    assert engine.at(journey, "u1") == ("active", "wait", "")
    engine.advance(minutes=1, seconds=1)
    assert engine.sent_to(journey, "p2") == ["u1"]
    assert engine.at(journey, "u1") == ("exited", "p2", "completed")


def test_delays_resolve_within_two_seconds(engine: Any) -> None:
    journey = engine.publish(
        define(START, [delay("wait", 90), sms("s")], [("entry", "wait"), ("wait", "s")])
    )
    engine.track("u1", "Start")
    engine.advance(seconds=89)
    assert engine.sent_to(journey, "s") == []
    engine.advance(seconds=2)
    assert engine.sent_to(journey, "s") == ["u1"]


def test_segment_to_segment(engine: Any) -> None:
    """The seed: not transacted in 30 days -> path A; of these, added to cart and did not
    buy within 15 minutes -> a specific path."""
    journey = engine.publish(
        define(
            START,
            [
                {
                    "id": "lapsed",
                    "type": "past_behaviour",
                    "window_days": 30,
                    "evaluate": "on_arrival",
                    "conditions": [{"kind": "did_not", "event": "Charged"}],
                },
                {"id": "carted", "type": "action", "event": "Added To Cart", "within": "P1D"},
                {"id": "nobuy", "type": "inaction", "not_event": "Charged", "within": "PT15M"},
                sms("abandoned"),
                sms("bought"),
                sms("active"),
            ],
            [
                ("entry", "lapsed"),
                ("lapsed", "carted", "yes"),
                ("lapsed", "active", "no"),
                ("carted", "nobuy", "yes"),
                ("nobuy", "abandoned", "yes"),
                ("nobuy", "bought", "no"),
            ],
        )
    )
    engine.track("regular", "Charged")
    engine.advance(minutes=1)
    for pid in ("regular", "abandoner", "buyer"):
        engine.track(pid, "Start")
    assert engine.sent_to(journey, "active") == ["regular"]
    engine.track("abandoner", "Added To Cart")
    engine.track("buyer", "Added To Cart")
    assert engine.at(journey, "abandoner") == ("active", "nobuy", "")
    engine.advance(minutes=5)
    engine.track("buyer", "Charged")
    engine.advance(minutes=10, seconds=1)
    assert engine.sent_to(journey, "abandoned") == ["abandoner"]
    assert engine.sent_to(journey, "bought") == ["buyer"]
    assert engine.path(journey, "abandoner") == [
        ("entry", "yes"),
        ("lapsed", "yes"),
        ("carted", "yes"),
        ("nobuy", "yes"),
        ("abandoned", "next"),
    ]


def test_one_event_satisfies_only_the_block_the_user_is_at(engine: Any) -> None:
    """Two Action blocks on the same event in a row: one event moves the user one block."""
    journey = engine.publish(
        define(
            START,
            [
                {"id": "first", "type": "action", "event": "Clicked"},
                {"id": "second", "type": "action", "event": "Clicked"},
                sms("done"),
            ],
            [("entry", "first"), ("first", "second", "yes"), ("second", "done", "yes")],
        )
    )
    engine.track("u1", "Start")
    engine.track("u1", "Clicked")
    assert engine.at(journey, "u1") == ("active", "second", "")
    engine.track("u1", "Clicked")
    assert engine.at(journey, "u1") == ("exited", "done", "completed")
