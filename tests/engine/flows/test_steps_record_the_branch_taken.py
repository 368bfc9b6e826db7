"""Branches are data: each step records the branch its user left on."""

from __future__ import annotations

from typing import Any

import pytest

from engine.models import Step
from tests.engine.flows.conftest import START, define, delay, push, sms

pytestmark = pytest.mark.django_db


def _branches(journey: Any, profile_id: str) -> list[tuple[str, str, str]]:
    return list(
        Step.objects.filter(journey=journey, profile__external_id=profile_id)
        .order_by("id")
        .values_list("node", "outcome", "branch")
    )


def test_yes_and_no_are_recorded_as_branches_beside_their_outcome(engine: Any) -> None:
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
    engine.advance(hours=1, seconds=1)  # the idle user's wait runs out: one statement on PG
    assert _branches(journey, "buyer") == [
        ("entry", "yes", "yes"),
        ("seg", "yes", "yes"),
        ("a", "next", ""),
    ]
    assert _branches(journey, "idle") == [
        ("entry", "yes", "yes"),
        ("seg", "no", "no"),
        ("b", "next", ""),
    ]


def test_a_block_with_one_way_out_and_an_exit_record_no_branch(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [delay("wait", "PT1H"), delay("longer", "PT5H")],
            [("entry", "wait"), ("wait", "longer")],
            conversion_time="PT2H",
        )
    )
    engine.track("ana", "Start")
    engine.advance(hours=1, seconds=1)
    engine.advance(hours=1, seconds=1)
    assert _branches(journey, "ana")[1:] == [("wait", "next", ""), ("longer", "exit", "")]
