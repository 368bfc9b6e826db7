"""Plain words for recorded steps (profile page, timeline and admin all use them)."""

from __future__ import annotations

from engine.domain.words import kind_label, why_words


def test_a_past_behaviour_check_reads_as_a_sentence() -> None:
    why = {
        "window_days": 1,
        "match": "all",
        "conditions": [{"kind": "did", "event": "Charged", "count": 0, "met": False}],
    }
    assert why_words(why, "no") == (
        "Did not match, so took the no path. Checked in the last 1 day: did Charged, 0 times (no)"
    )


def test_an_exit_and_a_goal_read_as_words_not_json() -> None:
    assert why_words({"reason": "goal_met", "goal": "bought"}, "exit") == (
        "Left the journey here. Reached the goal. Met the goal “bought”"
    )
    assert why_words({}, None) == ""
    assert why_words("not a mapping", "yes") == "Matched, so took the yes path"


def test_kinds_are_named_by_their_registry_label() -> None:
    assert kind_label("past_behaviour") == "Past Behaviour"
    assert kind_label("nope") == ""
    assert kind_label(None) == ""
