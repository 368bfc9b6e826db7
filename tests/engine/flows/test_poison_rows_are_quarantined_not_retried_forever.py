"""A batch of due work that keeps failing is split until the rows that fail alone are
found; those are quarantined with the reason, the others move on, and nothing is
retried forever. A database that is unwell quarantines nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError

from engine import quarantine, runner
from engine.models import Enrollment
from tests.engine.flows.conftest import START, define, delay, push

pytestmark = pytest.mark.django_db

USERS = ["u1", "u2", "bad", "u4", "u5"]


def drip() -> dict[str, Any]:
    return define(START, [delay("wait", "PT1H"), push("p1")], [("entry", "wait"), ("wait", "p1")])


@pytest.fixture
def poisoned(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Waking the enrollment named in ``state["bad"]`` raises, as a row with data the
    code cannot handle would; ``state["error"]`` is what it raises."""
    state: dict[str, Any] = {"bad": None, "error": ValueError("unreadable context"), "calls": 0}
    real = runner.process_wakes

    def process_wakes(
        version_id: int, node: str, ids: Any = None, now: Any = None, **kw: Any
    ) -> int:
        state["calls"] += 1
        due = ids
        if due is None:
            due = quarantine.due_ids(
                runner.due_wakes(version_id, node, runner.timezone.now()), "wake_at", 10_000
            )
        if state["bad"] in due:
            raise state["error"]
        return real(version_id, node, ids, now, **kw)

    monkeypatch.setattr(runner, "process_wakes", process_wakes)
    return state


def test_the_poison_row_is_quarantined_with_the_reason_and_the_others_move_on(
    engine: Any, poisoned: dict[str, Any]
) -> None:
    journey = engine.publish(drip())
    for user in USERS:
        engine.track(user, "Start")
    poisoned["bad"] = engine.enrollment(journey, "bad").pk

    engine.advance(hours=2)

    assert sorted(engine.sent_to(journey, "p1")) == ["u1", "u2", "u4", "u5"]
    bad = engine.enrollment(journey, "bad")
    assert bad.state == Enrollment.State.ACTIVE
    assert bad.node_state == Enrollment.NodeState.QUARANTINED
    assert bad.node == "wait"
    assert bad.wake_at is None
    assert bad.context["quarantine"]["reason"] == "ValueError: unreadable context"
    assert bad.context["quarantine"]["work"] == "wakes"

    calls = poisoned["calls"]
    engine.advance(hours=2)
    assert poisoned["calls"] == calls  # set aside: never retried by the ticker


def test_a_released_row_moves_on_once_the_fault_is_fixed(
    engine: Any, poisoned: dict[str, Any]
) -> None:
    journey = engine.publish(drip())
    engine.track("bad", "Start")
    poisoned["bad"] = engine.enrollment(journey, "bad").pk
    engine.advance(hours=2)
    assert engine.enrollment(journey, "bad").node_state == Enrollment.NodeState.QUARANTINED

    poisoned["bad"] = None  # the fix is deployed
    assert quarantine.release([engine.enrollment(journey, "bad").pk]) == 1
    engine.run_due()
    assert engine.sent_to(journey, "p1") == ["bad"]
    assert "quarantine" not in engine.enrollment(journey, "bad").context


def test_a_database_that_is_unwell_quarantines_nothing(
    engine: Any, poisoned: dict[str, Any]
) -> None:
    journey = engine.publish(drip())
    for user in USERS:
        engine.track(user, "Start")
    poisoned["bad"] = engine.enrollment(journey, "bad").pk
    poisoned["error"] = OperationalError("server closed the connection unexpectedly")

    engine.clock.shift(7200)
    with pytest.raises(OperationalError):
        engine.run_due()

    states = {e.node_state for e in Enrollment.objects.filter(journey=journey)}
    assert states == {Enrollment.NodeState.WAITING}
