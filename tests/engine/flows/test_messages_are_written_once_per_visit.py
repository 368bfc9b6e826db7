"""PRODUCT §3: a message is sent at most once per user per visit of a block, whatever
crashes, retries or restarts happen. Replayed or duplicated work writes nothing twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from engine import runner, ticker
from engine.events import process_events
from engine.models import Enrollment, Event, Message, Step
from engine.work import run_inline
from tests.engine.flows.conftest import START, define, delay, push, sms

pytestmark = pytest.mark.django_db


def drip(**settings: Any) -> dict[str, Any]:
    return define(
        START,
        [delay("wait", "PT20M"), push("p1"), sms("s1")],
        [("entry", "wait"), ("wait", "p1"), ("p1", "s1")],
        **settings,
    )


def counts(journey: Any) -> tuple[int, int]:
    return Message.objects.filter(journey=journey).count(), Step.objects.filter(
        journey=journey
    ).count()


def test_running_the_same_due_work_twice_writes_once(engine: Any) -> None:
    journey = engine.publish(drip())
    for i in range(5):
        engine.track(f"u{i}", "Start")
    engine.clock.shift(timedelta(minutes=21))
    with engine._capture(execute=True):
        work = ticker.collect(timezone.now())
        assert work
        for kind, args in work:
            run_inline(kind, args)
        for kind, args in work:
            run_inline(kind, args)
    engine.run_due()
    assert len(engine.messages(journey, "p1")) == 5
    assert len(engine.messages(journey, "s1")) == 5
    assert Step.objects.filter(journey=journey, node="wait").count() == 5
    assert Step.objects.filter(journey=journey, node="p1").count() == 5


def test_replaying_tasks_with_stale_ids_changes_nothing(engine: Any) -> None:
    journey = engine.publish(drip())
    engine.track("u1", "Start")
    engine.advance(minutes=21)
    enrollment = engine.enrollment(journey, "u1")
    assert enrollment.state == "exited"
    before = counts(journey)
    with engine._capture(execute=True):
        runner.process_wakes(enrollment.version_id, "wait", [enrollment.id])
        runner.process_arrivals(enrollment.version_id, "p1", [enrollment.id])
        runner.process_arrivals(enrollment.version_id, "s1", [enrollment.id])
        runner.process_arrivals(enrollment.version_id, "wait", [enrollment.id])
        runner.process_time_outs([enrollment.id])
    assert counts(journey) == before


def test_replaying_a_wake_for_a_user_who_moved_on_does_not_move_them(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [delay("d1", "PT10M"), delay("d2", "PT10M"), push("p1")],
            [("entry", "d1"), ("d1", "d2"), ("d2", "p1")],
        )
    )
    engine.track("u1", "Start")
    engine.advance(minutes=10, seconds=1)
    enrollment = engine.enrollment(journey, "u1")
    assert enrollment.node == "d2"
    with engine._capture(execute=True):
        runner.process_wakes(enrollment.version_id, "d1", [enrollment.id])
        runner.process_wakes(enrollment.version_id, "d2", [enrollment.id])  # not due yet
    assert engine.at(journey, "u1") == ("active", "d2", "")
    assert engine.messages(journey) == []


def test_a_lost_task_is_handed_out_again_after_a_minute_and_sent_once(engine: Any) -> None:
    journey = engine.publish(drip())
    engine.track("u1", "Start")
    engine.clock.shift(timedelta(minutes=21))
    with engine._capture(execute=True):
        lost = ticker.collect(timezone.now())  # handed out, then the worker dies
    assert lost
    with engine._capture(execute=True):
        assert ticker.collect(timezone.now()) == []  # still assumed running
    engine.advance(seconds=61)  # its slot ran out: handed out and run again
    assert len(engine.messages(journey, "p1")) == 1
    with engine._capture(execute=True):
        for kind, args in lost:  # the lost task shows up late after all
            run_inline(kind, args)
    assert len(engine.messages(journey, "p1")) == 1
    assert Step.objects.filter(journey=journey, node="p1").count() == 1


def test_processing_the_same_events_twice_enters_once(engine: Any) -> None:
    journey = engine.publish(drip(allow_reentry=True))
    engine.track("u1", "Start")
    event_ids = list(Event.objects.filter(name="Start").values_list("id", flat=True))
    with engine._capture(execute=True):
        process_events(event_ids)
        process_events(event_ids)
    assert len(engine.enrollments(journey, "u1")) == 1
    assert Step.objects.filter(journey=journey, node="entry").count() == 1


def test_replaying_an_entry_event_after_the_user_completed_does_not_reenter(engine: Any) -> None:
    """A redelivered process_events task must not count as a new qualifying event."""
    journey = engine.publish(define(START, [push("p1")], [("entry", "p1")], allow_reentry=True))
    engine.track("u1", "Start")
    assert engine.at(journey, "u1") == ("exited", "p1", "completed")
    event_ids = list(Event.objects.filter(name="Start").values_list("id", flat=True))
    with engine._capture(execute=True):
        process_events(event_ids)
    assert len(engine.enrollments(journey, "u1")) == 1
    assert len(engine.messages(journey, "p1")) == 1


def test_replaying_an_event_at_a_waiting_block_decides_once(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [{"id": "seg", "type": "action", "event": "Clicked"}, push("p1")],
            [("entry", "seg"), ("seg", "p1", "yes")],
        )
    )
    engine.track("u1", "Start")
    engine.track("u1", "Clicked")
    ids = list(Event.objects.filter(name="Clicked").values_list("id", flat=True))
    with engine._capture(execute=True):
        process_events(ids)
    assert len(engine.messages(journey, "p1")) == 1
    assert Step.objects.filter(journey=journey, node="seg").count() == 1


def test_each_visit_of_a_reentered_user_gets_its_message(engine: Any) -> None:
    journey = engine.publish(define(START, [push("p1")], [("entry", "p1")], allow_reentry=True))
    engine.track("u1", "Start")
    engine.advance(minutes=1)
    engine.track("u1", "Start")
    assert len(engine.messages(journey, "p1")) == 2
    assert len({m.enrollment_id for m in engine.messages(journey, "p1")}) == 2


def test_many_users_one_batch(engine: Any) -> None:
    journey = engine.publish(drip())
    engine.events(*[{"profile_id": f"u{i}", "name": "Start", "properties": {}} for i in range(300)])
    assert Enrollment.objects.filter(journey=journey, node="wait").count() == 300
    engine.advance(minutes=21)
    assert len(engine.messages(journey, "p1")) == 300
    assert len(engine.messages(journey, "s1")) == 300
    assert Enrollment.objects.filter(journey=journey, exit_reason="completed").count() == 300


def test_replaying_an_inaction_first_event_after_the_user_completed_does_not_reenter(
    engine: Any,
) -> None:
    journey = engine.publish(
        define(
            {
                "type": "inaction",
                "event": "Added To Cart",
                "not_event": "Charged",
                "within": "PT5M",
            },
            [push("p1")],
            [("entry", "p1")],
            allow_reentry=True,
        )
    )
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=5, seconds=1)
    assert engine.at(journey, "u1") == ("exited", "p1", "completed")
    ids = list(Event.objects.filter(name="Added To Cart").values_list("id", flat=True))
    with engine._capture(execute=True):
        process_events(ids)
    engine.advance(minutes=10)
    assert len(engine.enrollments(journey, "u1")) == 1
    assert len(engine.messages(journey, "p1")) == 1
