"""Races at the lifecycle edges (PRODUCT §4): an event is judged by the journey's status
when the event was ACCEPTED, not when a worker got to it.

Found in review: an event accepted a few milliseconds before a pause returned did not
enter, and an event right after a publish once did not enter either (a process judged
it by a stale copy of the journey's state).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from builder import services as builder_services
from builder.models import Journey
from engine import inbox, loaders, services
from engine.ingest import parse_events
from engine.models import Enrollment
from tests.engine.flows.conftest import START, define, delay, push

pytestmark = pytest.mark.django_db


def drip() -> dict[str, Any]:
    return define(START, [delay("wait", "PT1H"), push("p1")], [("entry", "wait"), ("wait", "p1")])


def accept_without_processing(engine: Any, profile_id: str) -> None:
    """The ingest request commits (the event is accepted); no worker has run yet."""
    records = parse_events(
        {"events": [{"profile_id": profile_id, "name": "Start"}]}, now=timezone.now(), max_items=10
    )
    with engine._capture(execute=False):
        services.events_ingest(project=engine.project, records=records)


def worker_processes_the_inbox(engine: Any) -> None:
    with engine._capture(execute=True):
        inbox.process_inbox(engine.project.pk)


def test_an_event_accepted_while_live_enters_though_a_pause_landed_before_it_was_processed(
    engine: Any,
) -> None:
    journey = engine.publish(drip())
    engine.clock.shift(1)
    accept_without_processing(engine, "u1")
    engine.clock.shift(0.005)
    engine.lifecycle("pause", journey)

    worker_processes_the_inbox(engine)

    assert engine.entered(journey, "u1")
    enrollment = engine.enrollment(journey, "u1")
    assert enrollment.state == Enrollment.State.ACTIVE
    engine.advance(hours=2)
    assert engine.messages(journey) == []  # paused: the user keeps their place
    engine.lifecycle("resume", journey)
    engine.advance(hours=2)
    assert engine.at(journey, "u1") == ("exited", "p1", "completed")


def test_an_event_accepted_before_a_publish_returned_is_judged_by_the_draft(
    engine: Any,
) -> None:
    journey = engine._committed(
        builder_services.journey_create,
        project=engine.project,
        user=engine.user,
        name="Drip",
        definition=drip(),
    )
    accept_without_processing(engine, "early")
    engine.clock.shift(1)
    engine.lifecycle("publish", journey)
    worker_processes_the_inbox(engine)
    assert not engine.entered(journey, "early")
    engine.clock.shift(1)
    engine.track("late", "Start")
    assert engine.entered(journey, "late")


def test_an_event_accepted_while_paused_does_not_enter_after_the_resume(engine: Any) -> None:
    journey = engine.publish(drip())
    engine.clock.shift(1)
    engine.lifecycle("pause", journey)
    engine.clock.shift(1)
    accept_without_processing(engine, "u2")
    engine.clock.shift(1)
    engine.lifecycle("resume", journey)
    worker_processes_the_inbox(engine)
    assert not engine.entered(journey, "u2")


def test_an_event_accepted_after_a_resume_returned_enters_even_where_the_cache_is_stale(
    engine: Any,
) -> None:
    journey = engine.publish(drip())
    engine.clock.shift(1)
    engine.lifecycle("pause", journey)
    stale = loaders.trigger_index(engine.project.pk)  # this process's copy: paused
    assert stale.journeys[journey.pk].status == "paused"
    engine.clock.shift(1)
    # The resume commits, but its notice to the other processes is lost.
    with engine._capture(execute=False):
        builder_services.journey_resume(
            journey=Journey.objects.get(pk=journey.pk), user=engine.user
        )
    assert loaders.trigger_index(engine.project.pk) is stale
    engine.clock.shift(1)
    engine.track("u3", "Start")
    assert engine.entered(journey, "u3")


def test_an_event_accepted_after_the_end_time_does_not_enter(engine: Any) -> None:
    end = timezone.now() + timezone.timedelta(minutes=1)
    journey = engine.publish(drip() | {"settings": {"end_at": end.isoformat()}})
    engine.clock.shift(30)
    engine.track("before", "Start")
    engine.clock.shift(60)
    engine.track("after", "Start")
    assert engine.entered(journey, "before")
    assert not engine.entered(journey, "after")


def test_the_status_log_keeps_the_last_changes_in_order(engine: Any) -> None:
    journey = engine.publish(drip())
    for action in ("pause", "resume", "pause", "resume"):
        engine.clock.shift(1)
        engine.lifecycle(action, journey)
    journey.refresh_from_db()
    assert [status for status, _ in journey.status_log] == [
        "live",
        "paused",
        "live",
        "paused",
        "live",
    ]
    times = [at for _, at in journey.status_log]
    assert times == sorted(times)
