"""PRODUCT §2 web blocks: Page Visit, Referrer Entry, Page Count — as entry (as soon as it
happens) and inside (like Action, on a matching page view / when the count is reached)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.engine.flows.conftest import entry_only, split

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example.com"

PRICING = {"type": "page_visit", "url": {"op": "contains", "value": "/pricing"}}
FACEBOOK = {"type": "referrer_entry", "referrer": {"op": "contains", "value": "facebook.com"}}
CAMPAIGN = {"type": "referrer_entry", "referrer": {"op": "eq", "value": "black-friday"}}
THREE_IN_SESSION = {"type": "page_count", "count": {"op": "gte", "value": 3}}
FIVE_IN_TOTAL = {"type": "page_count", "count": {"op": "gte", "value": 5}, "scope": "total"}


# --- Page Visit --------------------------------------------------------------------------------


def test_page_visit_entry_on_a_matching_url(engine: Any) -> None:
    journey = engine.publish(entry_only(PRICING))
    engine.page("u1", f"{SHOP}/pricing?plan=pro")
    engine.page("u2", f"{SHOP}/shoes")
    assert engine.at(journey, "u1") == ("exited", "hello", "completed")
    assert not engine.entered(journey, "u2")


def test_page_visit_needs_a_page_view_not_another_event_with_a_url(engine: Any) -> None:
    journey = engine.publish(entry_only(PRICING))
    engine.track("u1", "Clicked", url=f"{SHOP}/pricing")
    assert not engine.entered(journey, "u1")


def test_page_visit_inside_yes_on_a_matching_view(engine: Any) -> None:
    journey = engine.publish(split({**PRICING, "within": "PT1H"}))
    engine.track("u1", "Start")
    engine.page("u1", f"{SHOP}/shoes")
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.page("u1", f"{SHOP}/pricing")
    assert engine.outcome(journey, "u1", "seg") == "yes"


def test_page_visit_inside_no_when_within_runs_out(engine: Any) -> None:
    journey = engine.publish(split({**PRICING, "within": "PT1H"}))
    engine.track("u1", "Start")
    engine.advance(hours=1, seconds=1)
    assert engine.outcome(journey, "u1", "seg") == "no"


# --- Referrer Entry ----------------------------------------------------------------------------


def test_referrer_entry_from_facebook(engine: Any) -> None:
    journey = engine.publish(entry_only(FACEBOOK))
    engine.page("fb", f"{SHOP}/", referrer="https://l.facebook.com/l.php?u=x")
    engine.page("tw", f"{SHOP}/", referrer="https://t.co/abc")
    engine.page("direct", f"{SHOP}/")
    assert engine.entered(journey, "fb")
    assert not engine.entered(journey, "tw")
    assert not engine.entered(journey, "direct")


def test_referrer_entry_on_a_utm_campaign(engine: Any) -> None:
    journey = engine.publish(entry_only(CAMPAIGN))
    engine.page(
        "u1",
        f"{SHOP}/?utm_source=newsletter&utm_campaign=black-friday",
        utm_source="newsletter",
        utm_campaign="black-friday",
    )
    engine.page("u2", f"{SHOP}/?utm_campaign=spring", utm_campaign="spring")
    assert engine.entered(journey, "u1")
    assert not engine.entered(journey, "u2")


def test_referrer_inside_yes_on_a_matching_view(engine: Any) -> None:
    journey = engine.publish(split({**FACEBOOK, "within": "P1D"}))
    engine.track("u1", "Start")
    engine.page("u1", f"{SHOP}/", referrer="https://google.com")
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.page("u1", f"{SHOP}/", referrer="https://www.facebook.com/")
    assert engine.outcome(journey, "u1", "seg") == "yes"


def test_referrer_inside_no_when_within_runs_out(engine: Any) -> None:
    journey = engine.publish(split({**FACEBOOK, "within": "P1D"}))
    engine.track("u1", "Start")
    engine.page("u1", f"{SHOP}/", referrer="https://google.com")
    engine.advance(days=1, seconds=1)
    assert engine.outcome(journey, "u1", "seg") == "no"


# --- Page Count ----------------------------------------------------------------------------------


def test_page_count_entry_at_the_third_page_of_a_session(engine: Any) -> None:
    journey = engine.publish(entry_only(THREE_IN_SESSION))
    engine.page("u1", f"{SHOP}/a", session_id="s1")
    engine.page("u1", f"{SHOP}/b", session_id="s1")
    assert not engine.entered(journey, "u1")
    engine.page("u1", f"{SHOP}/c", session_id="s1")
    assert engine.entered(journey, "u1")
    assert len(engine.enrollments(journey, "u1")) == 1


def test_page_count_session_scope_does_not_add_sessions(engine: Any) -> None:
    journey = engine.publish(entry_only(THREE_IN_SESSION))
    engine.page("u1", f"{SHOP}/a", session_id="s1")
    engine.page("u1", f"{SHOP}/b", session_id="s1")
    engine.page("u1", f"{SHOP}/c", session_id="s2")
    engine.page("u1", f"{SHOP}/d", session_id="s3")
    assert not engine.entered(journey, "u1")


def test_page_count_total_scope_adds_sessions(engine: Any) -> None:
    journey = engine.publish(entry_only(FIVE_IN_TOTAL))
    for i in range(4):
        engine.page("u1", f"{SHOP}/{i}", session_id=f"s{i}")
    assert not engine.entered(journey, "u1")
    engine.page("u1", f"{SHOP}/4", session_id="s9")
    assert engine.entered(journey, "u1")


def test_page_count_in_one_batch(engine: Any) -> None:
    journey = engine.publish(entry_only(THREE_IN_SESSION))
    engine.events(
        *[
            {
                "profile_id": "u1",
                "name": "Page Viewed",
                "properties": {"url": f"{SHOP}/{i}", "referrer": "", "session_id": "s1"},
            }
            for i in range(3)
        ]
    )
    assert len(engine.enrollments(journey, "u1")) == 1


def test_page_count_inside_yes_when_the_count_is_reached(engine: Any) -> None:
    journey = engine.publish(split({**THREE_IN_SESSION, "within": "PT1H"}))
    engine.track("u1", "Start")
    engine.page("u1", f"{SHOP}/a")
    engine.page("u1", f"{SHOP}/b")
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.page("u1", f"{SHOP}/c")
    assert engine.outcome(journey, "u1", "seg") == "yes"


def test_page_count_inside_total_scope(engine: Any) -> None:
    journey = engine.publish(split({**FIVE_IN_TOTAL, "within": "PT1H"}))
    engine.track("u1", "Start")
    for i in range(4):
        engine.page("u1", f"{SHOP}/{i}", session_id=f"s{i}")
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.page("u1", f"{SHOP}/x", session_id="s7")
    assert engine.outcome(journey, "u1", "seg") == "yes"


def test_page_count_inside_no_when_within_runs_out(engine: Any) -> None:
    journey = engine.publish(split({**THREE_IN_SESSION, "within": "PT1H"}))
    engine.track("u1", "Start")
    engine.page("u1", f"{SHOP}/a")
    engine.advance(hours=1, seconds=1)
    assert engine.outcome(journey, "u1", "seg") == "no"
