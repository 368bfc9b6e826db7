"""The seed's cart-abandonment journey, end to end from ingest to the outbox."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db

CART = {
    "settings": {"conversion_time": "P7D", "allow_reentry": False},
    "entry": {
        "id": "entry",
        "type": "action",
        "event": "Added To Cart",
        "where": [{"property": "price", "op": "gte", "value": 50}],
    },
    "nodes": [
        {"id": "wait", "type": "delay", "duration": "PT20M"},
        {
            "id": "push1",
            "type": "push",
            "title": "Still thinking?",
            "body": "Hi {{ profile.first_name | default: 'there' }}, your {{ event.item }} misses you",
        },
        {
            "id": "paid",
            "type": "past_behaviour",
            "window_days": 1,
            "evaluate": "on_arrival",
            "conditions": [{"kind": "did", "event": "Charged"}],
        },
        {"id": "mail", "type": "email", "subject": "10% off", "html": "<p>Come back</p>"},
    ],
    "edges": [
        {"from": "entry", "to": "wait"},
        {"from": "wait", "to": "push1"},
        {"from": "push1", "to": "paid"},
        {"from": "paid", "to": "mail", "branch": "no"},
    ],
}


def test_cart_abandoner_gets_push_after_delay_then_email_when_they_did_not_buy(engine: Any) -> None:
    journey = engine.publish(CART)
    engine.profile("u-1", first_name="Ana")
    engine.track("u-1", "Added To Cart", price=120, item="Red Nike Shoes")

    assert engine.at(journey, "u-1") == ("active", "wait", "")
    engine.advance(minutes=19)
    assert engine.messages(journey) == []
    engine.advance(minutes=1, seconds=1)

    push = engine.messages(journey, "push1")
    assert len(push) == 1
    assert push[0].rendered["body"] == "Hi Ana, your Red Nike Shoes misses you"
    mail = engine.messages(journey, "mail")
    assert len(mail) == 1
    assert engine.at(journey, "u-1") == ("exited", "mail", "completed")
    assert engine.path(journey, "u-1") == [
        ("entry", "yes"),
        ("wait", "next"),
        ("push1", "next"),
        ("paid", "no"),
        ("mail", "next"),
    ]


def test_cheap_cart_does_not_enter(engine: Any) -> None:
    journey = engine.publish(CART)
    engine.track("u-2", "Added To Cart", price=20)
    assert not journey.enrollments.exists()


def test_buyer_goes_down_the_yes_path_and_gets_no_email(engine: Any) -> None:
    journey = engine.publish(CART)
    engine.track("u-3", "Added To Cart", price=80)
    engine.advance(minutes=5)
    engine.track("u-3", "Charged", amount=80)
    engine.advance(minutes=16)
    assert len(engine.messages(journey, "push1")) == 1
    assert engine.messages(journey, "mail") == []
    assert engine.at(journey, "u-3") == ("exited", "paid", "completed")
