"""CONTRACT Commands: `run_due_work` does, once and synchronously, everything due now
(timers, time-outs, scheduled starts, the midnight evaluations of every project whose
midnight has passed); `run_daily_evaluations --project` runs that project's 12:00 am
evaluations now."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from engine.models import Project
from tests.engine.flows.conftest import START, define, delay, push, sms, split

pytestmark = pytest.mark.django_db

PB_INSIDE = {
    "type": "past_behaviour",
    "window_days": 1,
    "conditions": [{"kind": "did", "event": "Charged"}],
}
SPENT = {
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


def test_run_due_work_fires_timers(engine: Any) -> None:
    journey = engine.publish(
        define(START, [delay("wait", "PT20M"), push("p1")], [("entry", "wait"), ("wait", "p1")])
    )
    engine.track("u1", "Start")
    engine.clock.shift(timedelta(minutes=21))
    engine.run_due_work_command()
    assert engine.at(journey, "u1") == ("exited", "p1", "completed")


def test_run_due_work_times_users_out(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [delay("wait", "P2D"), push("p1")],
            [("entry", "wait"), ("wait", "p1")],
            conversion_time="P1D",
        )
    )
    engine.track("u1", "Start")
    engine.clock.shift(timedelta(days=1, seconds=1))
    engine.run_due_work_command()
    assert engine.at(journey, "u1") == ("exited", "wait", "time_out")


def test_run_due_work_starts_scheduled_journeys(engine: Any) -> None:
    start = (timezone.now() + timedelta(hours=1)).isoformat()
    journey = engine.publish(define(START, [push("p1")], [("entry", "p1")], start_at=start))
    engine.clock.shift(timedelta(hours=1, seconds=1))
    engine.run_due_work_command()
    journey.refresh_from_db()
    assert journey.status == "live"
    engine.track("u1", "Start")
    assert engine.entered(journey, "u1")


def test_run_due_work_runs_the_midnight_evaluations_of_due_projects(
    engine: Any, other_project: Project
) -> None:
    journey = engine.publish(split(PB_INSIDE))
    engine.track("u1", "Start")
    engine.clock.shift(timedelta(hours=13, minutes=59))  # 23:59 UTC
    engine.run_due_work_command()
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.clock.shift(timedelta(minutes=1, seconds=1))
    engine.run_due_work_command()
    assert engine.at(journey, "u1") == ("exited", "n", "completed")


def test_run_due_work_midnight_once_per_day(engine: Any) -> None:
    journey = engine.publish(split(PB_INSIDE))
    engine.clock.shift(timedelta(hours=14, seconds=1))  # just past midnight
    engine.run_due_work_command()
    engine.track("u1", "Start")
    engine.clock.shift(timedelta(hours=1))
    engine.run_due_work_command()
    assert engine.at(journey, "u1") == ("active", "seg", "")


def test_run_due_work_runs_past_behaviour_entry_at_start_and_every_day(engine: Any) -> None:
    engine.track("u1", "Video Watched")
    journey = engine.publish(
        define(
            {
                "type": "past_behaviour",
                "window_days": 30,
                "conditions": [{"kind": "did", "event": "Video Watched"}],
            },
            [push("p1")],
            [("entry", "p1")],
        )
    )
    engine.run_due_work_command()
    assert engine.entered(journey, "u1")
    engine.track("u2", "Video Watched")
    engine.clock.shift(timedelta(hours=24, seconds=1))
    engine.run_due_work_command()
    assert engine.entered(journey, "u2")


def test_run_due_work_prints_a_summary(engine: Any) -> None:
    out = StringIO()
    with engine._capture(execute=True):
        call_command("run_due_work", stdout=out)
    assert "batch" in out.getvalue()


def test_run_daily_evaluations_moves_waiting_users_now(engine: Any) -> None:
    journey = engine.publish(split(PB_INSIDE))
    engine.track("buyer", "Start")
    engine.track("idle", "Start")
    engine.track("buyer", "Charged")
    engine.run_daily()
    assert engine.at(journey, "buyer") == ("exited", "y", "completed")
    assert engine.at(journey, "idle") == ("exited", "n", "completed")


def test_run_daily_evaluations_exits_past_behaviour_goals(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [delay("wait", "P3D"), sms("s")],
            [("entry", "wait"), ("wait", "s")],
            goals=[SPENT],
        )
    )
    engine.track("u1", "Start")
    engine.track("u1", "Charged", amount=300)
    engine.track("u2", "Start")
    engine.run_daily()
    assert engine.at(journey, "u1") == ("exited", "wait", "goal_met")
    assert engine.at(journey, "u2") == ("active", "wait", "")


def test_run_daily_evaluations_only_touches_that_project(
    engine: Any, other_project: Project
) -> None:
    journey = engine.publish(split(PB_INSIDE))
    engine.track("u1", "Start")
    with engine._capture(execute=True):
        call_command("run_daily_evaluations", project=other_project.pk, stdout=StringIO())
    assert engine.at(journey, "u1") == ("active", "seg", "")


def test_run_daily_evaluations_unknown_project(engine: Any) -> None:
    with pytest.raises(CommandError):
        call_command("run_daily_evaluations", project=999999, stdout=StringIO())


def test_run_daily_evaluations_does_not_touch_on_arrival_or_other_blocks(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [{"id": "seg", "type": "action", "event": "Clicked"}, sms("y")],
            [("entry", "seg"), ("seg", "y", "yes")],
        )
    )
    engine.track("u1", "Start")
    engine.run_daily()
    assert engine.at(journey, "u1") == ("active", "seg", "")
