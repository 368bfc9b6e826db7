"""The segment and campaign details pages: members see them, nobody else does."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from builder.models import Journey
from tests.stats.conftest import Engine, with_email
from tests.stats.journeys import GOALS_AND_CONVERSION

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.stats.urls")]


@pytest.fixture
def journey(engine: Engine) -> Journey:
    journey = engine.publish(GOALS_AND_CONVERSION, name="Cart rescue")
    with_email(engine, "ana", "ana@example.com", first_name="Ana")
    for user in ("ana", "bo", "cy"):
        engine.track(user, "Added To Cart")
    engine.advance(minutes=10)
    engine.track("ana", "Opened App")  # yes -> mail (sent)
    engine.advance(hours=2)  # bo and cy: no
    engine.advance(days=1)  # next day
    engine.track("dee", "Added To Cart")
    engine.advance(minutes=1)
    engine.track("dee", "Opened App")  # yes, on the second day
    return journey


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def segment(journey: Journey, node: str = "opened") -> str:
    return f"/journeys/{journey.pk}/blocks/{node}/segment"


def campaign(journey: Journey, node: str = "mail") -> str:
    return f"/journeys/{journey.pk}/blocks/{node}/campaign"


def test_segment_details_show_the_definition_daily_counts_and_sample(
    journey: Journey, marketer: Any
) -> None:
    response = browser(marketer).get(segment(journey))
    assert response.status_code == 200
    report = response.context["report"]
    assert report["totals"] == {"evaluated": 4, "yes": 2, "no": 2}
    by_day = {d["day"].isoformat(): (d["evaluated"], d["yes"], d["no"]) for d in report["days"]}
    assert by_day["2026-11-28"] == (3, 1, 2)
    assert by_day["2026-11-29"] == (1, 1, 0)
    assert len(report["days"]) == 30  # the last 30 days by default
    assert [s["profile_id"] for s in report["sample"]] == ["dee", "ana"]
    html = response.content.decode()
    assert "Opened App" in html
    assert "Cart rescue" in html
    assert "dee" in html


def test_segment_details_for_a_chosen_frame(journey: Journey, marketer: Any) -> None:
    response = browser(marketer).get(segment(journey), {"from": "2026-11-29", "to": "2026-11-29"})
    report = response.context["report"]
    assert [d["day"].isoformat() for d in report["days"]] == ["2026-11-29"]
    assert report["totals"] == {"evaluated": 1, "yes": 1, "no": 0}
    assert [s["profile_id"] for s in report["sample"]] == ["dee"]


def test_the_entry_block_has_segment_details_too(journey: Journey, marketer: Any) -> None:
    response = browser(marketer).get(segment(journey, "entry"))
    assert response.status_code == 200
    assert response.context["report"]["totals"] == {"evaluated": 4, "yes": 4, "no": 0}


def test_campaign_details_preview_the_message_and_count_deliveries(
    journey: Journey, marketer: Any
) -> None:
    response = browser(marketer).get(campaign(journey, "push1"))
    assert response.status_code == 200
    report = response.context["report"]
    assert report["totals"] == {
        "queued": 0, "sent": 0, "failed": 0, "skipped": 4,
        "recorded": 0, "delivered": 0, "opened": 0, "clicked": 0,
    }  # fmt: skip
    assert report["sample_profile"] == "dee"
    assert report["preview"]["body"] == "Hi there"

    mail = browser(marketer).get(campaign(journey), {"profile": "ana"})
    assert mail.context["report"]["preview"]["subject"] == "10% off"
    # No EMAIL_URL in tests: the mail was kept in the outbox file, and the page says so.
    assert mail.context["report"]["totals"]["recorded"] == 1
    assert mail.context["report"]["totals"]["sent"] == 0
    html = mail.content.decode()
    assert "Hi Ana" in html
    assert "No provider is configured for this channel" in html
    assert "set EMAIL_URL" in html


def test_campaign_details_do_not_warn_when_a_provider_is_configured(
    journey: Journey, marketer: Any, settings: Any
) -> None:
    settings.EMAIL_URL = "smtp://127.0.0.1:2525"
    html = browser(marketer).get(campaign(journey)).content.decode()
    assert "No provider is configured" not in html


def test_a_viewer_sees_the_pages(journey: Journey, viewer: Any) -> None:
    assert browser(viewer).get(segment(journey)).status_code == 200
    assert browser(viewer).get(campaign(journey)).status_code == 200


def test_other_marketers_get_404(journey: Journey, other_marketer: Any, other_project: Any) -> None:
    assert browser(other_marketer).get(segment(journey)).status_code == 404
    assert browser(other_marketer).get(campaign(journey)).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(journey: Journey) -> None:
    response = Client().get(segment(journey))
    assert response.status_code == 302
    assert "login" in response["Location"]


@pytest.mark.parametrize(
    ("page", "node"),
    [("segment", "mail"), ("segment", "nowhere"), ("campaign", "opened"), ("campaign", "entry")],
)
def test_a_block_of_the_wrong_kind_is_404(
    journey: Journey, marketer: Any, page: str, node: str
) -> None:
    response = browser(marketer).get(f"/journeys/{journey.pk}/blocks/{node}/{page}")
    assert response.status_code == 404


def test_an_unknown_journey_is_404(marketer: Any) -> None:
    assert browser(marketer).get("/journeys/999999/blocks/opened/segment").status_code == 404
