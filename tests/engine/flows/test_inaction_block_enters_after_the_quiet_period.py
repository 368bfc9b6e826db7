"""PRODUCT §2 Inaction: entry = did A, then not B within N -> enters when N has passed;
inside = did not do B within N of arriving -> yes when N passes; does B -> no at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.engine.flows.conftest import entry_only, split

pytestmark = pytest.mark.django_db

ABANDON = {
    "type": "inaction",
    "event": "Added To Cart",
    "not_event": "Charged",
    "within": "PT5M",
}


def test_added_to_cart_and_no_purchase_enters_when_5_minutes_passed(engine: Any) -> None:
    journey = engine.publish(entry_only(ABANDON))
    engine.track("u1", "Added To Cart")
    assert not engine.entered(journey, "u1")
    engine.advance(minutes=4, seconds=59)
    assert not engine.entered(journey, "u1")
    engine.advance(seconds=2)
    assert engine.at(journey, "u1") == ("exited", "hello", "completed")
    assert engine.path(journey, "u1")[0] == ("entry", "yes")
    assert engine.sent_to(journey, "hello") == ["u1"]


def test_purchase_within_5_minutes_cancels_the_entry(engine: Any) -> None:
    journey = engine.publish(entry_only(ABANDON))
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=3)
    engine.track("u1", "Charged")
    engine.advance(minutes=10)
    assert not engine.entered(journey, "u1")
    assert engine.messages(journey) == []


def test_purchase_after_5_minutes_does_not_undo_the_entry(engine: Any) -> None:
    journey = engine.publish(entry_only(ABANDON))
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=5, seconds=1)
    engine.track("u1", "Charged")
    assert engine.entered(journey, "u1")


def test_purchase_before_the_cart_event_does_not_cancel(engine: Any) -> None:
    journey = engine.publish(entry_only(ABANDON))
    engine.track("u1", "Charged")
    engine.advance(minutes=1)
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=5, seconds=1)
    assert engine.entered(journey, "u1")


def test_late_arriving_purchase_that_happened_before_the_cart_does_not_cancel(engine: Any) -> None:
    journey = engine.publish(entry_only(ABANDON))
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=1)
    engine.track_at("u1", "Charged", timezone.now() - timedelta(minutes=10))
    engine.advance(minutes=5)
    assert engine.entered(journey, "u1")


def test_the_quiet_period_counts_from_the_first_event(engine: Any) -> None:
    journey = engine.publish(entry_only(ABANDON))
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=3)
    engine.track("u1", "Added To Cart")  # a second add does not restart the clock
    engine.advance(minutes=2, seconds=1)
    assert engine.entered(journey, "u1")


def test_filters_on_both_events(engine: Any) -> None:
    block = {
        **ABANDON,
        "where": [{"property": "price", "op": "gte", "value": 50}],
        "not_where": [{"property": "amount", "op": "gte", "value": 50}],
    }
    journey = engine.publish(entry_only(block))
    engine.track("cheap", "Added To Cart", price=10)
    engine.track("small-buy", "Added To Cart", price=80)
    engine.track("big-buy", "Added To Cart", price=80)
    engine.advance(minutes=1)
    engine.track("small-buy", "Charged", amount=5)  # not a matching purchase
    engine.track("big-buy", "Charged", amount=80)
    engine.advance(minutes=5)
    assert not engine.entered(journey, "cheap")
    assert engine.entered(journey, "small-buy")
    assert not engine.entered(journey, "big-buy")


def test_two_users_are_independent(engine: Any) -> None:
    journey = engine.publish(entry_only(ABANDON))
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=2)
    engine.track("u2", "Added To Cart")
    engine.advance(minutes=3, seconds=1)
    assert engine.entered(journey, "u1")
    assert not engine.entered(journey, "u2")
    engine.advance(minutes=2)
    assert engine.entered(journey, "u2")


def test_inaction_entry_message_can_use_the_first_event(engine: Any) -> None:
    definition = entry_only(ABANDON)
    definition["nodes"][0]["body"] = "Your {{ event.item }} is waiting"
    journey = engine.publish(definition)
    engine.track("u1", "Added To Cart", item="Red Shoes")
    engine.advance(minutes=6)
    assert engine.messages(journey, "hello")[0].rendered["body"] == "Your Red Shoes is waiting"


# --- inside a journey --------------------------------------------------------------------

QUIET = {"type": "inaction", "not_event": "Charged", "within": "PT15M"}


def test_inside_yes_when_the_period_passes_without_the_event(engine: Any) -> None:
    journey = engine.publish(split(QUIET))
    engine.track("u1", "Start")
    engine.advance(minutes=14)
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.advance(minutes=1, seconds=1)
    assert engine.at(journey, "u1") == ("exited", "y", "completed")
    assert engine.outcome(journey, "u1", "seg") == "yes"


def test_inside_doing_the_event_goes_no_at_once(engine: Any) -> None:
    journey = engine.publish(split(QUIET))
    engine.track("u1", "Start")
    engine.advance(minutes=3)
    engine.track("u1", "Charged")
    assert engine.at(journey, "u1") == ("exited", "n", "completed")
    assert engine.outcome(journey, "u1", "seg") == "no"
    engine.advance(minutes=20)
    assert engine.sent_to(journey, "y") == []


def test_inside_the_event_before_arrival_does_not_count(engine: Any) -> None:
    journey = engine.publish(split(QUIET))
    engine.track("u1", "Charged")
    engine.advance(minutes=1)
    engine.track("u1", "Start")
    engine.advance(minutes=16)
    assert engine.outcome(journey, "u1", "seg") == "yes"


def test_inside_not_where_filter(engine: Any) -> None:
    block = {**QUIET, "not_where": [{"property": "amount", "op": "gte", "value": 100}]}
    journey = engine.publish(split(block))
    engine.track("u1", "Start")
    engine.track("u1", "Charged", amount=10)
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.track("u1", "Charged", amount=100)
    assert engine.outcome(journey, "u1", "seg") == "no"


def test_cart_and_purchase_in_the_same_batch_do_not_enter(engine: Any) -> None:
    """An SDK flushes [Added To Cart @10:00:00, Charged @10:00:30] together: the user bought
    within 5 minutes of adding to cart, so they must not enter."""
    journey = engine.publish(entry_only(ABANDON))
    now = timezone.now()
    engine.events(
        {
            "profile_id": "u1",
            "name": "Added To Cart",
            "ts": (now - timedelta(seconds=40)).isoformat(),
        },
        {"profile_id": "u1", "name": "Charged", "ts": (now - timedelta(seconds=10)).isoformat()},
    )
    engine.advance(minutes=6)
    assert not engine.entered(journey, "u1")


def test_purchase_then_cart_in_the_same_batch_enters(engine: Any) -> None:
    journey = engine.publish(entry_only(ABANDON))
    now = timezone.now()
    engine.events(
        {"profile_id": "u1", "name": "Charged", "ts": (now - timedelta(seconds=40)).isoformat()},
        {
            "profile_id": "u1",
            "name": "Added To Cart",
            "ts": (now - timedelta(seconds=10)).isoformat(),
        },
    )
    engine.advance(minutes=6)
    assert engine.entered(journey, "u1")
