"""PRODUCT §2 Action: as entry, enters as soon as the event (with filters) happens;
inside, waits up to `within`: performed -> yes at once, not by then -> no."""

from __future__ import annotations

from typing import Any

import pytest

from tests.engine.flows.conftest import entry_only, split

pytestmark = pytest.mark.django_db


def cart_entry(*where: dict[str, Any]) -> dict[str, Any]:
    return entry_only({"type": "action", "event": "Added To Cart", "where": list(where)})


# --- as entry criteria -------------------------------------------------------------------


def test_user_enters_as_soon_as_they_perform_the_event(engine: Any) -> None:
    journey = engine.publish(cart_entry())
    engine.track("u1", "Added To Cart", price=10)
    assert engine.at(journey, "u1") == ("exited", "hello", "completed")
    assert engine.path(journey, "u1") == [("entry", "yes"), ("hello", "next")]
    assert engine.sent_to(journey, "hello") == ["u1"]


def test_other_events_do_not_enter(engine: Any) -> None:
    journey = engine.publish(cart_entry())
    engine.track("u1", "Added To Wishlist", price=10)
    engine.advance(minutes=5)
    assert not engine.entered(journey, "u1")


@pytest.mark.parametrize(
    ("where", "enters", "stays_out"),
    [
        ({"property": "price", "op": "eq", "value": 50}, {"price": 50}, {"price": 51}),
        ({"property": "price", "op": "neq", "value": 50}, {"price": 51}, {"price": 50}),
        ({"property": "price", "op": "gt", "value": 50}, {"price": 51}, {"price": 50}),
        ({"property": "price", "op": "gte", "value": 50}, {"price": 50}, {"price": 49}),
        ({"property": "price", "op": "lt", "value": 50}, {"price": 49}, {"price": 50}),
        ({"property": "price", "op": "lte", "value": 50}, {"price": 50}, {"price": 51}),
        (
            {"property": "item", "op": "in", "value": ["shoe", "sock"]},
            {"item": "sock"},
            {"item": "hat"},
        ),
        (
            {"property": "item", "op": "not_in", "value": ["shoe"]},
            {"item": "hat"},
            {"item": "shoe"},
        ),
        (
            {"property": "item", "op": "contains", "value": "Nike"},
            {"item": "Red Nike Shoes"},
            {"item": "Adidas"},
        ),
        (
            {"property": "item", "op": "not_contains", "value": "Nike"},
            {"item": "Adidas"},
            {"item": "Nike Air"},
        ),
        (
            {"property": "item", "op": "starts_with", "value": "Red"},
            {"item": "Red Nike"},
            {"item": "Blue Red"},
        ),
        (
            {"property": "item", "op": "ends_with", "value": "Shoes"},
            {"item": "Red Shoes"},
            {"item": "Shoes Red"},
        ),
        ({"property": "coupon", "op": "exists"}, {"coupon": "X1"}, {"price": 1}),
        ({"property": "coupon", "op": "not_exists"}, {"price": 1}, {"coupon": "X1"}),
    ],
)
def test_where_filters_decide_entry(
    engine: Any, where: dict[str, Any], enters: dict[str, Any], stays_out: dict[str, Any]
) -> None:
    journey = engine.publish(cart_entry(where))
    engine.track("in", "Added To Cart", **enters)
    engine.track("out", "Added To Cart", **stays_out)
    assert engine.entered(journey, "in")
    assert not engine.entered(journey, "out")


def test_every_filter_must_hold(engine: Any) -> None:
    journey = engine.publish(
        cart_entry(
            {"property": "price", "op": "gte", "value": 50},
            {"property": "item", "op": "eq", "value": "shoe"},
        )
    )
    engine.track("both", "Added To Cart", price=60, item="shoe")
    engine.track("one", "Added To Cart", price=60, item="sock")
    assert engine.entered(journey, "both")
    assert not engine.entered(journey, "one")


def test_nested_property_filter(engine: Any) -> None:
    journey = engine.publish(cart_entry({"property": "product.brand", "op": "eq", "value": "Nike"}))
    engine.track("u1", "Added To Cart", product={"brand": "Nike"})
    engine.track("u2", "Added To Cart", product={"brand": "Puma"})
    assert engine.entered(journey, "u1")
    assert not engine.entered(journey, "u2")


def test_event_before_publish_does_not_enter(engine: Any) -> None:
    engine.track("u1", "Added To Cart", price=10)
    journey = engine.publish(cart_entry())
    engine.advance(minutes=1)
    assert not engine.entered(journey, "u1")


# --- inside a journey --------------------------------------------------------------------

WITHIN = {"type": "action", "event": "Charged", "within": "PT1H"}


def test_inside_performed_within_goes_yes_at_once(engine: Any) -> None:
    journey = engine.publish(split(WITHIN))
    engine.track("u1", "Start")
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.advance(minutes=10)
    engine.track("u1", "Charged", amount=5)
    assert engine.at(journey, "u1") == ("exited", "y", "completed")
    assert engine.path(journey, "u1") == [("entry", "yes"), ("seg", "yes"), ("y", "next")]
    assert engine.sent_to(journey, "n") == []


def test_inside_not_performed_by_within_goes_no(engine: Any) -> None:
    journey = engine.publish(split(WITHIN))
    engine.track("u1", "Start")
    engine.advance(minutes=59)
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.advance(minutes=1, seconds=1)
    assert engine.at(journey, "u1") == ("exited", "n", "completed")
    assert engine.outcome(journey, "u1", "seg") == "no"
    assert engine.sent_to(journey, "y") == []


def test_inside_event_after_within_ran_out_changes_nothing(engine: Any) -> None:
    journey = engine.publish(split(WITHIN))
    engine.track("u1", "Start")
    engine.advance(hours=1, seconds=1)
    engine.track("u1", "Charged")
    assert engine.sent_to(journey, "y") == []
    assert engine.sent_to(journey, "n") == ["u1"]


def test_inside_where_filters_apply(engine: Any) -> None:
    block = {**WITHIN, "where": [{"property": "amount", "op": "gte", "value": 100}]}
    journey = engine.publish(split(block))
    engine.track("u1", "Start")
    engine.track("u1", "Charged", amount=10)
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.track("u1", "Charged", amount=150)
    assert engine.outcome(journey, "u1", "seg") == "yes"


def test_inside_event_before_arrival_does_not_count(engine: Any) -> None:
    journey = engine.publish(split(WITHIN))
    engine.track("u1", "Charged")
    engine.advance(minutes=1)
    engine.track("u1", "Start")
    engine.advance(minutes=30)
    assert engine.at(journey, "u1") == ("active", "seg", "")


def test_inside_the_triggering_event_does_not_count(engine: Any) -> None:
    """Entry on Charged, then an Action block on Charged: the entry's own event is not it."""
    journey = engine.publish(split(WITHIN, entry={"type": "action", "event": "Charged"}))
    engine.track("u1", "Charged")
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.track("u1", "Charged")
    assert engine.outcome(journey, "u1", "seg") == "yes"


def test_inside_without_within_waits_with_no_limit(engine: Any) -> None:
    journey = engine.publish(split({"type": "action", "event": "Charged"}))
    engine.track("u1", "Start")
    engine.advance(days=40)
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.track("u1", "Charged")
    assert engine.at(journey, "u1") == ("exited", "y", "completed")


def test_inside_event_after_the_entry_event_in_the_same_batch_counts(engine: Any) -> None:
    """A batch [Start, Charged]: Charged happened after the entry event, so the user who
    just entered and waits at the Action block goes yes at once."""
    journey = engine.publish(split(WITHIN))
    engine.events(
        {"profile_id": "u1", "name": "Start", "properties": {}},
        {"profile_id": "u1", "name": "Charged", "properties": {}},
    )
    assert engine.at(journey, "u1") == ("exited", "y", "completed")


def test_inside_event_before_the_entry_event_in_the_same_batch_does_not_count(engine: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    journey = engine.publish(split(WITHIN))
    now = timezone.now()
    engine.events(
        {"profile_id": "u1", "name": "Charged", "ts": (now - timedelta(seconds=10)).isoformat()},
        {"profile_id": "u1", "name": "Start", "ts": (now - timedelta(seconds=5)).isoformat()},
    )
    assert engine.at(journey, "u1") == ("active", "seg", "")
