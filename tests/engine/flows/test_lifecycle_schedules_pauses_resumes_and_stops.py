"""PRODUCT §4 Lifecycle: draft -> live (or scheduled with a start time) -> paused -> live ->
stopped; an end time stops entries. Paused: no new entries, users keep their place and
resume. Stopped: everyone exits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from builder.models import Journey
from tests.engine.flows.conftest import START, define, delay, entry_only, push, sms

pytestmark = pytest.mark.django_db


def iso(**delta: float) -> str:
    return (timezone.now() + timedelta(**delta)).isoformat()


def drip(**settings: Any) -> dict[str, Any]:
    return define(
        START,
        [delay("wait", "PT1H"), push("p1")],
        [("entry", "wait"), ("wait", "p1")],
        **settings,
    )


def status(journey: Journey) -> str:
    journey.refresh_from_db()
    return journey.status


# --- scheduled start ----------------------------------------------------------------------------


def test_scheduled_start_then_the_ticker_makes_it_live(engine: Any) -> None:
    journey = engine.publish(drip(start_at=iso(hours=2)))
    assert status(journey) == "scheduled"
    engine.track("early", "Start")
    assert not engine.entered(journey, "early")
    engine.advance(hours=1, minutes=59)
    assert status(journey) == "scheduled"
    engine.advance(minutes=1, seconds=1)
    assert status(journey) == "live"
    engine.track("early", "Start")
    engine.track("late", "Start")
    assert engine.entered(journey, "late")
    assert engine.entered(journey, "early")


def test_scheduled_past_behaviour_entry_runs_at_the_start(engine: Any) -> None:
    engine.track("u1", "Video Watched")
    journey = engine.publish(
        entry_only(
            {
                "type": "past_behaviour",
                "window_days": 30,
                "conditions": [{"kind": "did", "event": "Video Watched"}],
            },
            start_at=iso(hours=3),
        )
    )
    engine.run_due()
    assert not engine.entered(journey, "u1")
    engine.advance(hours=3, seconds=1)
    assert engine.entered(journey, "u1")


def test_scheduled_date_time_entry_is_scheduled_at_the_start(engine: Any) -> None:
    engine.profile("u1", flight_time=iso(hours=6))
    journey = engine.publish(
        entry_only(
            {"type": "date_time", "property": "flight_time", "offset": "-PT2H"},
            start_at=iso(hours=1),
        )
    )
    engine.advance(hours=1, seconds=1)
    assert not engine.entered(journey, "u1")
    engine.advance(hours=3)
    assert engine.entered(journey, "u1")


# --- end time -------------------------------------------------------------------------------------


def test_end_time_stops_entries_but_users_in_flight_continue(engine: Any) -> None:
    journey = engine.publish(drip(end_at=iso(minutes=30)))
    engine.track("in", "Start")
    engine.advance(minutes=31)
    engine.track("late", "Start")
    assert not engine.entered(journey, "late")
    engine.advance(minutes=30)
    assert engine.at(journey, "in") == ("exited", "p1", "completed")
    assert engine.sent_to(journey, "p1") == ["in"]


def test_end_time_stops_inaction_candidates_from_entering(engine: Any) -> None:
    journey = engine.publish(
        entry_only(
            {
                "type": "inaction",
                "event": "Added To Cart",
                "not_event": "Charged",
                "within": "PT10M",
            },
            end_at=iso(minutes=5),
        )
    )
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=11)
    assert not engine.entered(journey, "u1")


# --- pause and resume ----------------------------------------------------------------------------


def test_paused_journey_takes_no_entries(engine: Any) -> None:
    journey = engine.publish(drip())
    engine.lifecycle("pause", journey)
    engine.track("u1", "Start")
    assert not engine.entered(journey, "u1")
    engine.lifecycle("resume", journey)
    assert not engine.entered(journey, "u1")  # the event during the pause is not replayed
    engine.track("u1", "Start")
    assert engine.entered(journey, "u1")


def test_paused_users_keep_their_place_and_timers_fire_on_resume(engine: Any) -> None:
    journey = engine.publish(drip())
    engine.track("u1", "Start")
    engine.advance(minutes=30)
    engine.lifecycle("pause", journey)
    engine.advance(hours=2)
    assert engine.at(journey, "u1") == ("active", "wait", "")
    assert engine.messages(journey) == []
    engine.lifecycle("resume", journey)
    engine.run_due()
    assert engine.at(journey, "u1") == ("exited", "p1", "completed")
    assert len(engine.messages(journey, "p1")) == 1


def test_paused_time_out_fires_on_resume(engine: Any) -> None:
    journey = engine.publish(drip(conversion_time="PT20M"))
    engine.track("u1", "Start")
    engine.lifecycle("pause", journey)
    engine.advance(minutes=30)
    assert engine.at(journey, "u1") == ("active", "wait", "")
    engine.lifecycle("resume", journey)
    engine.run_due()
    assert engine.at(journey, "u1") == ("exited", "wait", "time_out")


def test_paused_waiting_block_limit_fires_on_resume(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [{"id": "seg", "type": "action", "event": "Charged", "within": "PT10M"}, sms("n")],
            [("entry", "seg"), ("seg", "n", "no")],
        )
    )
    engine.track("u1", "Start")
    engine.lifecycle("pause", journey)
    engine.advance(minutes=20)
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.lifecycle("resume", journey)
    engine.run_due()
    assert engine.sent_to(journey, "n") == ["u1"]


def test_paused_midnight_evaluation_waits_for_resume(engine: Any) -> None:
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
        )
    )
    engine.track("u1", "Start")
    engine.lifecycle("pause", journey)
    engine.until_midnight()
    assert engine.at(journey, "u1") == ("active", "pb", "")
    engine.lifecycle("resume", journey)
    engine.until_midnight()
    assert engine.sent_to(journey, "n") == ["u1"]


def test_action_goals_still_exit_users_of_a_paused_journey(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [delay("wait", "PT1H"), push("p1")],
            [("entry", "wait"), ("wait", "p1")],
            goals=[{"id": "bought", "type": "action", "event": "Charged"}],
        )
    )
    engine.track("u1", "Start")
    engine.lifecycle("pause", journey)
    engine.track("u1", "Charged")
    assert engine.at(journey, "u1") == ("exited", "wait", "goal_met")
    engine.lifecycle("resume", journey)
    engine.advance(hours=2)
    assert engine.messages(journey) == []


def test_paused_inaction_candidates_do_not_enter_while_paused(engine: Any) -> None:
    journey = engine.publish(
        entry_only(
            {"type": "inaction", "event": "Added To Cart", "not_event": "Charged", "within": "PT5M"}
        )
    )
    engine.track("u1", "Added To Cart")
    engine.lifecycle("pause", journey)
    engine.advance(minutes=10)
    assert not engine.entered(journey, "u1")


# --- stop -----------------------------------------------------------------------------------------


def test_stop_exits_everyone_where_they_are(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [
                delay("wait", "PT1H"),
                push("p1"),
                {"id": "seg", "type": "action", "event": "Clicked"},
                sms("y"),
            ],
            [("entry", "wait"), ("wait", "p1"), ("p1", "seg"), ("seg", "y", "yes")],
        )
    )
    engine.track("early", "Start")
    engine.advance(hours=1, seconds=1)
    engine.track("late", "Start")
    engine.lifecycle("stop", journey)
    assert status(journey) == "stopped"
    assert engine.at(journey, "early") == ("exited", "seg", "stopped")
    assert engine.at(journey, "late") == ("exited", "wait", "stopped")
    assert engine.path(journey, "late")[-1] == ("wait", "exit")
    engine.advance(hours=2)
    engine.track("early", "Clicked")
    engine.track("new", "Start")
    assert not engine.entered(journey, "new")
    assert engine.sent_to(journey, "p1") == ["early"]
    assert engine.messages(journey, "y") == []


def test_stop_cancels_pending_candidates(engine: Any) -> None:
    journey = engine.publish(
        entry_only(
            {"type": "inaction", "event": "Added To Cart", "not_event": "Charged", "within": "PT5M"}
        )
    )
    engine.track("u1", "Added To Cart")
    engine.lifecycle("stop", journey)
    engine.advance(minutes=10)
    assert not engine.entered(journey, "u1")


def test_stop_a_paused_journey(engine: Any) -> None:
    journey = engine.publish(drip())
    engine.track("u1", "Start")
    engine.lifecycle("pause", journey)
    engine.lifecycle("stop", journey)
    assert engine.at(journey, "u1") == ("exited", "wait", "stopped")
