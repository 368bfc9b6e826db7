"""The event inbox (ingest's to-do for the engine) is processed by ``engine.process_inbox``;
tasks queued before it had its own word (``engine.process_pending``, work kind ``pending``)
still run after an upgrade, and the ticker's sweep hands out the new kind."""

from __future__ import annotations

from typing import Any

import pytest
from celery import current_app
from django.utils import timezone

from engine import ticker
from engine.ingest import parse_events
from engine.models import EventInbox
from engine.work import run_inline
from tests.engine.flows.conftest import START, define, push

pytestmark = pytest.mark.django_db


def accept_without_processing(engine: Any, *profile_ids: str) -> None:
    from engine import services

    records = parse_events(
        {"events": [{"profile_id": p, "name": "Start"} for p in profile_ids]},
        now=timezone.now(),
        max_items=10,
    )
    with engine._capture(execute=False):
        services.events_ingest(project=engine.project, records=records)


def test_an_accepted_request_leaves_one_inbox_row_that_the_task_processes_and_deletes(
    engine: Any,
) -> None:
    journey = engine.publish(define(START, [push("p1")], [("entry", "p1")]))
    accept_without_processing(engine, "u1", "u2")
    assert EventInbox.objects.filter(project=engine.project).count() == 1

    with engine._capture(execute=True):
        done = current_app.tasks["engine.process_inbox"](engine.project.pk)

    assert done == 2
    assert not EventInbox.objects.exists()
    assert engine.sent_to(journey, "p1") == ["u1", "u2"]


@pytest.mark.parametrize(
    "run",
    [
        pytest.param(lambda pid: current_app.tasks["engine.process_pending"](pid), id="task"),
        pytest.param(lambda pid: run_inline("pending", (pid,)), id="work-kind"),
    ],
)
def test_work_queued_under_the_old_name_still_processes_the_inbox(engine: Any, run: Any) -> None:
    journey = engine.publish(define(START, [push("p1")], [("entry", "p1")]))
    accept_without_processing(engine, "u1")

    with engine._capture(execute=True):
        assert run(engine.project.pk) == 1

    assert not EventInbox.objects.exists()
    assert engine.sent_to(journey, "p1") == ["u1"]


def test_the_sweep_hands_a_lost_inbox_to_the_inbox_work_kind(engine: Any) -> None:
    engine.publish(define(START, [push("p1")], [("entry", "p1")]))
    accept_without_processing(engine, "u1")
    engine.clock.shift(60)  # the task that was asked for never ran

    work = ticker.collect(timezone.now())

    assert ("inbox", (engine.project.pk,)) in work
