"""Split: each user goes down one named branch, the same one every time; a holdout
branch keeps its users out of the messages and still counts their conversions."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from engine.domain.kinds.split import assign
from engine.models import Enrollment, Profile, Step
from stats.frames import frame_from_params
from stats.selectors import journey_stats
from tests.engine.flows.conftest import START, define, push, sms

pytestmark = pytest.mark.django_db

USERS = [f"u{i}" for i in range(40)]


def _split(*branches: tuple[str, int, bool]) -> dict[str, Any]:
    return {
        "id": "ab",
        "type": "split",
        "branches": [{"name": n, "percent": p, "holdout": h} for n, p, h in branches],
    }


def _expected(journey: Any, block: Any, external_id: str) -> str:
    profile = Profile.objects.get(external_id=external_id)
    return assign(block, journey.pk, profile.pk)[0]


def test_each_user_gets_the_message_of_the_branch_the_hash_gives_them(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [_split(("A", 50, False), ("B", 50, False)), push("a"), sms("b")],
            [("entry", "ab"), ("ab", "a", "A"), ("ab", "b", "B")],
        )
    )
    for user in USERS:
        engine.track(user, "Start")
    from engine import loaders

    block = loaders.version(journey.live_version_id).definition.nodes["ab"]
    expected = {user: _expected(journey, block, user) for user in USERS}
    assert set(expected.values()) == {"A", "B"}
    assert engine.sent_to(journey, "a") == sorted(u for u in USERS if expected[u] == "A")
    assert engine.sent_to(journey, "b") == sorted(u for u in USERS if expected[u] == "B")
    steps = Step.objects.filter(journey=journey, node="ab")
    assert set(steps.values_list("outcome", flat=True)) == {"branch"}
    assert Counter(steps.values_list("branch", flat=True)) == Counter(expected.values())

    stats = journey_stats(journey=journey, frame=frame_from_params({}))
    assert stats["nodes"]["ab"]["branches"] == dict(Counter(expected.values()))
    assert stats["nodes"]["ab"]["entered"] == len(USERS)
    assert "branches" not in stats["nodes"]["a"]


def test_a_user_who_comes_back_takes_the_same_branch(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [_split(("A", 34, False), ("B", 33, False), ("C", 33, False)), sms("a")],
            [("entry", "ab"), ("ab", "a", "A")],
            allow_reentry=True,
        )
    )
    for _ in range(3):
        for user in USERS[:10]:
            engine.track(user, "Start")
    for user in USERS[:10]:
        taken = set(
            Step.objects.filter(journey=journey, node="ab", profile__external_id=user).values_list(
                "branch", flat=True
            )
        )
        stays = Enrollment.objects.filter(journey=journey, profile__external_id=user).count()
        assert stays == 3
        assert len(taken) == 1, user


def test_holdout_users_get_no_message_and_their_conversions_still_count(engine: Any) -> None:
    journey = engine.publish(
        define(
            START,
            [_split(("treated", 50, False), ("holdout", 50, True)), push("offer")],
            [("entry", "ab"), ("ab", "offer", "treated")],
            goals=[{"id": "bought", "type": "action", "event": "Charged"}],
            conversion_time="P7D",
        )
    )
    for user in USERS:
        engine.track(user, "Start")
    from engine import loaders

    block = loaders.version(journey.live_version_id).definition.nodes["ab"]
    held = sorted(u for u in USERS if _expected(journey, block, u) == "holdout")
    treated = sorted(u for u in USERS if u not in held)
    assert held
    assert treated
    assert engine.sent_to(journey, "offer") == treated
    # Held-out users wait at the split (their path ends there) until a goal or time-out.
    for user in held:
        assert engine.at(journey, user) == ("active", "ab", "")
    for user in held[:3] + treated[:2]:
        engine.track(user, "Charged")
    for user in held[:3]:
        assert engine.at(journey, user) == ("exited", "ab", "goal_met")
    stats = journey_stats(journey=journey, frame=frame_from_params({}))
    assert stats["nodes"]["ab"]["goal_met"] == 3
    assert stats["nodes"]["ab"]["branches"] == {"treated": len(treated), "holdout": len(held)}
    assert stats["summary"]["goal_met"] == 5
