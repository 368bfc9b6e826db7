"""Editing a live journey and stopping it: the builder chooses, the engine's in-flight
services write the enrollments and steps (move, exit, keep, switch, stop)."""

from __future__ import annotations

from typing import Any

import pytest

from builder import services as builder_services
from engine.models import Enrollment, Step
from tests.engine.flows.conftest import START, define, delay, sms

pytestmark = pytest.mark.django_db


def _v1() -> dict[str, Any]:
    return define(
        START,
        [delay("wait", "PT1H"), delay("hold", "PT2H"), sms("bye")],
        [("entry", "wait"), ("wait", "hold"), ("hold", "bye")],
    )


def _update(engine: Any, journey: Any, definition: dict[str, Any], choice: Any) -> None:
    journey.refresh_from_db()
    engine._committed(
        builder_services.journey_update,
        journey=journey,
        user=engine.user,
        definition=definition,
        in_flight_choice=choice,
    )


def test_a_move_choice_moves_users_with_a_moved_step_and_they_go_on(engine: Any) -> None:
    journey = engine.publish(_v1())
    engine.track("ana", "Start")
    v2 = define(
        START,
        [delay("wait", "PT3H"), delay("hold", "PT2H"), sms("bye")],
        [("entry", "wait"), ("wait", "hold"), ("hold", "bye")],
    )
    _update(engine, journey, v2, {"wait": {"action": "move", "to": "bye"}})
    stay = Enrollment.objects.get(journey=journey, profile__external_id="ana")
    assert (stay.state, stay.version.number) == ("exited", 2)  # moved to bye, sent, completed
    assert engine.sent_to(journey, "bye") == ["ana"]
    moved = Step.objects.get(enrollment=stay, node="wait")
    assert (moved.outcome, moved.detail) == ("moved", {"to": "bye", "version": 2})


def test_an_exit_choice_exits_users_where_they_are(engine: Any) -> None:
    journey = engine.publish(_v1())
    engine.track("ana", "Start")
    v2 = define(START, [sms("bye")], [("entry", "bye")])
    _update(engine, journey, v2, {"wait": {"action": "exit"}})
    assert engine.at(journey, "ana") == ("exited", "wait", "removed")
    step = Step.objects.get(journey=journey, node="wait")
    assert (step.outcome, step.detail) == ("exit", {"reason": "removed"})


def test_kept_users_stay_and_unchanged_blocks_switch_version(engine: Any) -> None:
    journey = engine.publish(_v1())
    engine.track("ana", "Start")
    engine.advance(hours=1, seconds=1)  # ana now waits at hold
    engine.track("bob", "Start")  # bob waits at wait
    v2 = define(
        START,
        [delay("wait", "PT5H"), delay("hold", "PT2H"), sms("bye")],
        [("entry", "wait"), ("wait", "hold"), ("hold", "bye")],
    )
    _update(engine, journey, v2, {"wait": {"action": "keep"}})
    versions = dict(
        Enrollment.objects.filter(journey=journey).values_list(
            "profile__external_id", "version__number"
        )
    )
    assert versions == {"ana": 2, "bob": 1}


def test_stopping_exits_everyone_with_a_step_through_the_engine(engine: Any) -> None:
    journey = engine.publish(_v1())
    engine.track("ana", "Start")
    engine.lifecycle("stop", journey)
    assert engine.at(journey, "ana") == ("exited", "wait", "stopped")
    step = Step.objects.get(journey=journey, node="wait")
    assert (step.outcome, step.detail) == ("exit", {"reason": "stopped"})
