"""PRODUCT §2 Date Time: entry relative to a date-time profile property (flight in 2 hours
-> enters 2 hours before flight_time); inside waits until property + offset -> yes,
property missing or time already past -> no."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.engine.flows.conftest import entry_only, split

pytestmark = pytest.mark.django_db

FLIGHT_ENTRY = {"type": "date_time", "property": "flight_time", "offset": "-PT2H"}


def iso(**delta: float) -> str:
    return (timezone.now() + timedelta(**delta)).isoformat()


# --- as entry criteria -------------------------------------------------------------------


def test_enters_two_hours_before_the_flight(engine: Any) -> None:
    journey = engine.publish(entry_only(FLIGHT_ENTRY))
    engine.profile("u1", flight_time=iso(hours=5))
    engine.advance(hours=2, minutes=59)
    assert not engine.entered(journey, "u1")
    engine.advance(minutes=1, seconds=1)
    assert engine.at(journey, "u1") == ("exited", "hello", "completed")
    assert engine.sent_to(journey, "hello") == ["u1"]


def test_profiles_known_before_publish_are_scheduled(engine: Any) -> None:
    engine.profile("u1", flight_time=iso(hours=3))
    journey = engine.publish(entry_only(FLIGHT_ENTRY))
    engine.advance(minutes=59)
    assert not engine.entered(journey, "u1")
    engine.advance(minutes=1, seconds=1)
    assert engine.entered(journey, "u1")


def test_a_changed_flight_time_reschedules(engine: Any) -> None:
    journey = engine.publish(entry_only(FLIGHT_ENTRY))
    engine.profile("u1", flight_time=iso(hours=3))
    engine.advance(minutes=30)
    engine.profile("u1", flight_time=iso(hours=6))  # delayed flight
    engine.advance(minutes=31)
    assert not engine.entered(journey, "u1")
    engine.advance(hours=3)
    assert not engine.entered(journey, "u1")
    engine.advance(minutes=30)
    assert engine.entered(journey, "u1")
    assert len(engine.enrollments(journey, "u1")) == 1


def test_an_earlier_flight_time_reschedules(engine: Any) -> None:
    journey = engine.publish(entry_only(FLIGHT_ENTRY))
    engine.profile("u1", flight_time=iso(hours=10))
    engine.profile("u1", flight_time=iso(hours=3))
    engine.advance(hours=1, seconds=1)
    assert engine.entered(journey, "u1")


def test_a_target_in_the_past_never_enters(engine: Any) -> None:
    journey = engine.publish(entry_only(FLIGHT_ENTRY))
    engine.profile("u1", flight_time=iso(hours=1))  # 2 h before is already past
    engine.profile("u2", flight_time=iso(hours=-5))
    engine.advance(days=1)
    assert not engine.entered(journey, "u1")
    assert not engine.entered(journey, "u2")


def test_a_removed_or_invalid_property_cancels(engine: Any) -> None:
    journey = engine.publish(entry_only(FLIGHT_ENTRY))
    engine.profile("u1", flight_time=iso(hours=5))
    engine.profile("u1", flight_time="not a date")
    engine.advance(hours=4)
    assert not engine.entered(journey, "u1")


def test_epoch_seconds_are_a_date_time(engine: Any) -> None:
    journey = engine.publish(entry_only(FLIGHT_ENTRY))
    engine.profile("u1", flight_time=int((timezone.now() + timedelta(hours=3)).timestamp()))
    engine.advance(hours=1, seconds=1)
    assert engine.entered(journey, "u1")


def test_a_positive_offset(engine: Any) -> None:
    """E.g. a day after signup."""
    journey = engine.publish(
        entry_only({"type": "date_time", "property": "signed_up", "offset": "P1D"})
    )
    engine.profile("u1", signed_up=iso(hours=0))
    engine.advance(hours=23, minutes=59)
    assert not engine.entered(journey, "u1")
    engine.advance(minutes=1, seconds=1)
    assert engine.entered(journey, "u1")


# --- inside a journey --------------------------------------------------------------------

REMINDER = {"type": "date_time", "property": "flight_time", "offset": "-PT2H"}


def test_inside_waits_until_property_plus_offset_then_yes(engine: Any) -> None:
    journey = engine.publish(split(REMINDER))
    engine.profile("u1", flight_time=iso(hours=10))
    engine.track("u1", "Start")
    engine.advance(hours=7, minutes=59)
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.advance(minutes=1, seconds=1)
    assert engine.at(journey, "u1") == ("exited", "y", "completed")
    assert engine.outcome(journey, "u1", "seg") == "yes"


def test_inside_missing_property_goes_no_at_once(engine: Any) -> None:
    journey = engine.publish(split(REMINDER))
    engine.track("u1", "Start")
    assert engine.at(journey, "u1") == ("exited", "n", "completed")


def test_inside_time_already_past_goes_no_at_once(engine: Any) -> None:
    journey = engine.publish(split(REMINDER))
    engine.profile("u1", flight_time=iso(hours=1))
    engine.track("u1", "Start")
    assert engine.outcome(journey, "u1", "seg") == "no"


def test_inside_a_changed_property_reschedules(engine: Any) -> None:
    journey = engine.publish(split(REMINDER))
    engine.profile("u1", flight_time=iso(hours=10))
    engine.track("u1", "Start")
    engine.profile("u1", flight_time=iso(hours=20))
    engine.advance(hours=8, seconds=1)
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.advance(hours=10)
    assert engine.outcome(journey, "u1", "seg") == "yes"
