"""The seed's examples end to end: HTTP ingest -> engine -> outbox (and delivery by the
local backend): cart abandonment, flight in 2 hours, video watched and no subscription in
30 days, spend at least $300 in the last week (a Past Behaviour goal)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.engine.flows.conftest import define, delay, push, sms
from tests.engine.flows.test_cart_abandonment import CART

pytestmark = pytest.mark.django_db


class Http:
    """Sends through the public ingest API, running the after-commit work like production."""

    def __init__(self, engine: Any, client: APIClient) -> None:
        self.engine = engine
        self.client = client

    def events(self, *events: dict[str, Any]) -> None:
        with self.engine._capture(execute=True):
            response = self.client.post("/api/v1/events", {"events": list(events)}, format="json")
        assert response.status_code == 202, response.content

    def track(self, pid: str, name: str, **props: Any) -> None:
        self.events({"profile_id": pid, "name": name, "properties": props})

    def profile(self, pid: str, **fields: Any) -> None:
        with self.engine._capture(execute=True):
            response = self.client.post(
                "/api/v1/profiles", {"profiles": [{"id": pid, **fields}]}, format="json"
            )
        assert response.status_code == 200, response.content


@pytest.fixture
def http(engine: Any, ingest: APIClient) -> Http:
    return Http(engine, ingest)


def test_cart_abandonment_over_http(engine: Any, http: Http) -> None:
    journey = engine.publish(CART)
    http.profile("u-1", email="ana@example.com", properties={"first_name": "Ana"})
    http.track("u-1", "Added To Cart", price=120, item="Red Nike Shoes")
    http.track("u-2", "Added To Cart", price=99, item="Trail Jacket")
    http.track("u-3", "Added To Cart", price=10, item="Socks")  # below the filter
    engine.advance(minutes=10)
    http.track("u-2", "Charged", amount=99)
    engine.advance(minutes=10, seconds=1)
    push1 = {m.profile.external_id: m for m in engine.messages(journey, "push1")}
    assert sorted(push1) == ["u-1", "u-2"]
    assert push1["u-1"].rendered["body"] == "Hi Ana, your Red Nike Shoes misses you"
    assert push1["u-2"].rendered["body"] == "Hi there, your Trail Jacket misses you"
    assert engine.sent_to(journey, "mail") == ["u-1"]
    mail = engine.messages(journey, "mail")[0]
    assert mail.rendered["to"] == "ana@example.com"
    assert mail.status in ("recorded", "queued")  # no provider configured: kept, not sent
    assert not engine.entered(journey, "u-3")


def test_cart_abandonment_with_a_goal_and_time_out(engine: Any, http: Http) -> None:
    definition = {**CART, "goals": [{"id": "bought", "type": "action", "event": "Charged"}]}
    journey = engine.publish(definition)
    http.track("buyer", "Added To Cart", price=60)
    http.track("lapser", "Added To Cart", price=60)
    engine.advance(minutes=5)
    http.track("buyer", "Charged", amount=60)
    assert engine.at(journey, "buyer") == ("exited", "wait", "goal_met")
    engine.advance(minutes=16)
    assert engine.sent_to(journey, "push1") == ["lapser"]
    assert engine.at(journey, "lapser") == ("active", "mail", "")  # parked: a goal is set
    engine.advance(days=7)
    assert engine.at(journey, "lapser") == ("exited", "mail", "time_out")


def test_cart_abandonment_reentry_gives_a_new_push_each_time(engine: Any, http: Http) -> None:
    journey = engine.publish(
        {**CART, "settings": {"conversion_time": "P7D", "allow_reentry": True}}
    )
    http.track("u-1", "Added To Cart", price=60)
    engine.advance(minutes=21)
    http.track("u-1", "Added To Cart", price=70)
    engine.advance(minutes=21)
    assert len(engine.messages(journey, "push1")) == 2


def test_flight_in_two_hours(engine: Any, http: Http) -> None:
    journey = engine.publish(
        define(
            {"type": "date_time", "property": "flight_time", "offset": "-PT2H"},
            [
                push(
                    "boarding",
                    "Your flight",
                    "Flight to {{ profile.destination }} leaves in 2 hours",
                ),
                delay("later", "PT3H"),
                sms("landed", "Welcome to {{ profile.destination }}"),
            ],
            [("entry", "boarding"), ("boarding", "later"), ("later", "landed")],
        )
    )
    flight = timezone.now() + timedelta(hours=5)
    http.profile(
        "pax",
        properties={
            "flight_time": flight.isoformat().replace("+00:00", "Z"),
            "destination": "Lisbon",
        },
    )
    http.profile(
        "late-booker",
        properties={"flight_time": (timezone.now() + timedelta(minutes=30)).isoformat()},
    )
    engine.advance(hours=2, minutes=59)
    assert engine.messages(journey) == []
    engine.advance(minutes=1, seconds=1)
    boarding = engine.messages(journey, "boarding")
    assert [m.profile.external_id for m in boarding] == ["pax"]
    assert boarding[0].rendered["body"] == "Flight to Lisbon leaves in 2 hours"
    engine.advance(hours=3)
    assert engine.messages(journey, "landed")[0].rendered["body"] == "Welcome to Lisbon"
    assert not engine.entered(journey, "late-booker")


def test_video_watched_and_no_subscription_in_30_days(engine: Any, http: Http) -> None:
    now = timezone.now()
    http.events(
        {
            "profile_id": "watcher",
            "name": "Video Watched",
            "ts": (now - timedelta(days=3)).isoformat(),
        },
        {
            "profile_id": "subscriber",
            "name": "Video Watched",
            "ts": (now - timedelta(days=3)).isoformat(),
        },
        {
            "profile_id": "subscriber",
            "name": "Subscription Paid",
            "ts": (now - timedelta(days=2)).isoformat(),
        },
        {
            "profile_id": "old-sub",
            "name": "Video Watched",
            "ts": (now - timedelta(days=1)).isoformat(),
        },
        {
            "profile_id": "old-sub",
            "name": "Subscription Paid",
            "ts": (now - timedelta(days=40)).isoformat(),
        },
        {
            "profile_id": "old-watcher",
            "name": "Video Watched",
            "ts": (now - timedelta(days=31)).isoformat(),
        },
    )
    journey = engine.publish(
        define(
            {
                "type": "past_behaviour",
                "window_days": 30,
                "conditions": [
                    {"kind": "did", "event": "Video Watched"},
                    {"kind": "did_not", "event": "Subscription Paid"},
                ],
            },
            [push("offer", "Like it?", "Subscribe for 20% off")],
            [("entry", "offer")],
        )
    )
    engine.run_due()
    assert engine.sent_to(journey, "offer") == ["old-sub", "watcher"]
    http.track("newcomer", "Video Watched")
    engine.advance(hours=24, seconds=1)
    assert engine.sent_to(journey, "offer") == ["newcomer", "old-sub", "watcher"]


def test_spend_at_least_300_in_the_last_week_is_a_goal(engine: Any, http: Http) -> None:
    journey = engine.publish(
        define(
            {"type": "action", "event": "App Launched"},
            [push("d1"), delay("day", "P1D"), push("d2"), delay("day2", "P1D"), sms("d3")],
            [("entry", "d1"), ("d1", "day"), ("day", "d2"), ("d2", "day2"), ("day2", "d3")],
            goals=[
                {
                    "id": "spent300",
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
            ],
        )
    )
    http.track("spender", "App Launched")
    http.track("saver", "App Launched")
    now = timezone.now()
    http.events(
        {"profile_id": "spender", "name": "Charged", "properties": {"amount": 120}},
        {"profile_id": "spender", "name": "Charged", "properties": {"amount": 200}},
        {
            "profile_id": "saver",
            "name": "Charged",
            "properties": {"amount": 250},
            "ts": (now - timedelta(hours=1)).isoformat(),
        },
        {
            "profile_id": "saver",
            "name": "Charged",
            "properties": {"amount": 100},
            "ts": (now - timedelta(days=9)).isoformat(),
        },  # outside the week
    )
    assert engine.at(journey, "spender") == ("active", "day", "")
    engine.until_midnight()  # 12:00 am project time
    assert engine.at(journey, "spender") == ("exited", "day", "goal_met")
    assert engine.at(journey, "saver") == ("active", "day", "")
    engine.advance(days=1)
    assert engine.sent_to(journey, "d2") == ["saver"]
