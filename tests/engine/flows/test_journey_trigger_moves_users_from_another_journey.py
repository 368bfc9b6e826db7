"""PRODUCT §2 Journey Trigger (entry only): enters when the same user is qualified for a
given block of another journey of the project (e.g. all users sent push X in journey 1)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.engine.flows.conftest import define, delay, entry_only, push, sms

pytestmark = pytest.mark.django_db


def journey_one() -> dict[str, Any]:
    return define(
        {"type": "action", "event": "Start"},
        [
            {"id": "seg", "type": "action", "event": "Clicked", "within": "PT1H"},
            push("pushX", "Deal", "50% off"),
            sms("other"),
            delay("wait", "PT10M"),
        ],
        [("entry", "wait"), ("wait", "seg"), ("seg", "pushX", "yes"), ("seg", "other", "no")],
    )


def follower(journey_id: int, node: str, **settings: Any) -> dict[str, Any]:
    return entry_only(
        {"type": "journey_trigger", "journey": str(journey_id), "node": node}, **settings
    )


def test_users_sent_push_x_in_journey_one_enter_journey_two(engine: Any) -> None:
    one = engine.publish(journey_one(), name="One")
    two = engine.publish(follower(one.pk, "pushX"), name="Two")
    engine.track("clicker", "Start")
    engine.track("ignorer", "Start")
    engine.advance(minutes=10, seconds=1)
    engine.track("clicker", "Clicked")
    assert engine.sent_to(one, "pushX") == ["clicker"]
    assert engine.at(two, "clicker") == ("exited", "hello", "completed")
    assert engine.path(two, "clicker")[0] == ("entry", "yes")
    engine.advance(hours=1, seconds=1)
    assert engine.sent_to(one, "other") == ["ignorer"]
    assert not engine.entered(two, "ignorer")


def test_segment_block_yes_triggers_no_does_not(engine: Any) -> None:
    one = engine.publish(journey_one(), name="One")
    two = engine.publish(follower(one.pk, "seg"), name="Two")
    engine.track("clicker", "Start")
    engine.track("ignorer", "Start")
    engine.advance(minutes=10, seconds=1)
    engine.track("clicker", "Clicked")
    engine.advance(hours=1, seconds=1)
    assert engine.entered(two, "clicker")
    assert not engine.entered(two, "ignorer")


def test_passing_a_delay_triggers_after_it(engine: Any) -> None:
    one = engine.publish(journey_one(), name="One")
    two = engine.publish(follower(one.pk, "wait"), name="Two")
    engine.track("u1", "Start")
    engine.advance(minutes=9)
    assert not engine.entered(two, "u1")
    engine.advance(minutes=1, seconds=1)
    assert engine.entered(two, "u1")


def test_entering_journey_one_triggers_on_its_entry_block(engine: Any) -> None:
    one = engine.publish(journey_one(), name="One")
    two = engine.publish(follower(one.pk, "entry"), name="Two")
    engine.track("u1", "Start")
    assert engine.entered(two, "u1")


def test_journey_two_respects_its_own_reentry_rule(engine: Any) -> None:
    one = engine.publish(
        entry_only({"type": "action", "event": "Start"}, allow_reentry=True), name="One"
    )
    two = engine.publish(follower(one.pk, "hello"), name="Two")
    engine.track("u1", "Start")
    engine.advance(minutes=1)
    engine.track("u1", "Start")
    assert len(engine.enrollments(one, "u1")) == 2
    assert len(engine.enrollments(two, "u1")) == 1


def test_a_paused_journey_two_takes_no_triggered_entries(engine: Any) -> None:
    one = engine.publish(journey_one(), name="One")
    two = engine.publish(follower(one.pk, "entry"), name="Two")
    engine.lifecycle("pause", two)
    engine.track("u1", "Start")
    assert not engine.entered(two, "u1")
    engine.lifecycle("resume", two)
    engine.track("u2", "Start")
    assert engine.entered(two, "u2")
