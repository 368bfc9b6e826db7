"""PRODUCT §4 Re-entry: once ever by default; with re-entry allowed, again after exiting;
never in the same journey twice at once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.engine.flows.conftest import START, define, delay, entry_only, push

pytestmark = pytest.mark.django_db


def purchase_promo(**settings: Any) -> dict[str, Any]:
    """The seed: a purchase enters; after 20 minutes a push with a promotion code."""
    return define(
        {"type": "action", "event": "Charged"},
        [delay("wait", "PT20M"), push("promo", "Thanks", "Code SAVE10")],
        [("entry", "wait"), ("wait", "promo")],
        **settings,
    )


def test_by_default_a_user_enters_once_ever(engine: Any) -> None:
    journey = engine.publish(purchase_promo())
    engine.track("u1", "Charged")
    engine.advance(minutes=21)
    assert engine.at(journey, "u1") == ("exited", "promo", "completed")
    engine.track("u1", "Charged")
    engine.advance(minutes=21)
    assert len(engine.enrollments(journey, "u1")) == 1
    assert len(engine.messages(journey, "promo")) == 1


def test_with_reentry_a_user_who_exited_enters_again(engine: Any) -> None:
    journey = engine.publish(purchase_promo(allow_reentry=True))
    engine.track("u1", "Charged")
    engine.advance(minutes=21)
    engine.track("u1", "Charged")
    engine.advance(minutes=21)
    assert [e.entry_number for e in engine.enrollments(journey, "u1")] == [1, 2]
    assert len(engine.messages(journey, "promo")) == 2


def test_with_reentry_a_user_in_the_journey_does_not_enter_twice(engine: Any) -> None:
    journey = engine.publish(purchase_promo(allow_reentry=True))
    engine.track("u1", "Charged")
    engine.advance(minutes=5)
    engine.track("u1", "Charged")
    engine.advance(minutes=30)
    assert len(engine.enrollments(journey, "u1")) == 1
    assert len(engine.messages(journey, "promo")) == 1


def test_two_qualifying_events_in_one_batch_enter_once(engine: Any) -> None:
    journey = engine.publish(purchase_promo(allow_reentry=True))
    engine.events(
        {"profile_id": "u1", "name": "Charged", "properties": {"n": 1}},
        {"profile_id": "u1", "name": "Charged", "properties": {"n": 2}},
    )
    assert len(engine.enrollments(journey, "u1")) == 1
    engine.advance(minutes=21)
    assert len(engine.messages(journey, "promo")) == 1


def test_two_qualifying_events_in_one_batch_complete_and_enter_once(engine: Any) -> None:
    """Even when the first entry completes at once, the same batch does not enter again."""
    journey = engine.publish(entry_only(START, allow_reentry=True))
    engine.events(
        {"profile_id": "u1", "name": "Start", "properties": {}},
        {"profile_id": "u1", "name": "Start", "properties": {}},
    )
    assert len(engine.enrollments(journey, "u1")) == 1


def test_the_same_event_delivered_twice_is_stored_once(engine: Any) -> None:
    journey = engine.publish(entry_only(START, allow_reentry=True))
    engine.events({"id": "c-1", "profile_id": "u1", "name": "Start", "properties": {}})
    engine.events({"id": "c-1", "profile_id": "u1", "name": "Start", "properties": {}})
    assert len(engine.enrollments(journey, "u1")) == 1


def test_with_reentry_after_a_time_out(engine: Any) -> None:
    journey = engine.publish(purchase_promo(allow_reentry=True, conversion_time="PT10M"))
    engine.track("u1", "Charged")
    engine.advance(minutes=11)
    assert engine.at(journey, "u1") == ("exited", "wait", "time_out")
    engine.track("u1", "Charged")
    assert engine.at(journey, "u1") == ("active", "wait", "")


def test_inaction_candidate_that_was_cancelled_is_not_an_entry(engine: Any) -> None:
    """Buying within 5 minutes cancels; a later abandoned cart still enters (first entry)."""
    journey = engine.publish(
        entry_only(
            {"type": "inaction", "event": "Added To Cart", "not_event": "Charged", "within": "PT5M"}
        )
    )
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=1)
    engine.track("u1", "Charged")
    engine.advance(minutes=10)
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=5, seconds=1)
    assert len(engine.enrollments(journey, "u1")) == 1


def test_inaction_entry_with_reentry(engine: Any) -> None:
    journey = engine.publish(
        entry_only(
            {
                "type": "inaction",
                "event": "Added To Cart",
                "not_event": "Charged",
                "within": "PT5M",
            },
            allow_reentry=True,
        )
    )
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=5, seconds=1)
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=5, seconds=1)
    assert len(engine.enrollments(journey, "u1")) == 2


def test_inaction_entry_once_ever_without_reentry(engine: Any) -> None:
    journey = engine.publish(
        entry_only(
            {"type": "inaction", "event": "Added To Cart", "not_event": "Charged", "within": "PT5M"}
        )
    )
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=5, seconds=1)
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=5, seconds=1)
    assert len(engine.enrollments(journey, "u1")) == 1


def test_reentry_date_time_set_while_in_the_journey_enters_when_it_comes(engine: Any) -> None:
    """The next flight is saved while the user is still in the journey for the previous one;
    they have exited by the time the next flight's entry time comes, so they enter again."""
    from datetime import timedelta

    from django.utils import timezone

    journey = engine.publish(
        define(
            {"type": "date_time", "property": "flight_time", "offset": "-PT2H"},
            [push("p1"), delay("wait", "PT3H")],
            [("entry", "p1"), ("p1", "wait")],
            allow_reentry=True,
        )
    )
    engine.profile("u1", flight_time=(timezone.now() + timedelta(hours=3)).isoformat())
    engine.advance(hours=1, seconds=1)
    assert engine.at(journey, "u1") == ("active", "wait", "")
    engine.profile("u1", flight_time=(timezone.now() + timedelta(hours=10)).isoformat())
    engine.advance(hours=3)
    assert engine.at(journey, "u1") == ("exited", "wait", "completed")
    engine.advance(hours=5)
    assert len(engine.enrollments(journey, "u1")) == 2
    assert len(engine.messages(journey, "p1")) == 2


def test_reentry_inaction_first_event_while_in_the_journey(engine: Any) -> None:
    """Added to cart while still in the journey, which they leave a minute later; five
    minutes after the cart, with no purchase, they are out and qualify again."""
    journey = engine.publish(
        define(
            {
                "type": "inaction",
                "event": "Added To Cart",
                "not_event": "Charged",
                "within": "PT5M",
            },
            [push("p1"), delay("wait", "PT2M")],
            [("entry", "p1"), ("p1", "wait")],
            allow_reentry=True,
        )
    )
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=5, seconds=1)
    assert engine.at(journey, "u1") == ("active", "wait", "")
    engine.advance(minutes=1)
    engine.track("u1", "Added To Cart")  # still in the journey for one more minute
    engine.advance(minutes=1)
    assert engine.at(journey, "u1") == ("exited", "wait", "completed")
    engine.advance(minutes=4)
    assert len(engine.enrollments(journey, "u1")) == 2
