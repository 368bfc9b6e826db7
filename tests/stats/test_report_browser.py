"""The journey report in a real Chromium, as a marketer who is not staff: from the journey
list to the report (summary, chart, blocks, stuck users), then the segment and campaign
details pages from its table; screenshots go to artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from builder import services as builder_services
from builder.models import Journey
from engine.models import Enrollment, Membership, Message, Profile, Project, Step
from tests.browser import launch_chromium
from tests.factories import MembershipFactory, UserFactory
from tests.stats.journeys import GOALS_AND_CONVERSION

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


def stay(journey: Journey, profile: Profile, days_ago: int, **fields: Any) -> Enrollment:
    assert journey.live_version is not None
    entered = timezone.now() - timedelta(days=days_ago, hours=1)
    return Enrollment.objects.create(
        project_id=journey.project_id,
        journey=journey,
        version=journey.live_version,
        profile=profile,
        entered_at=entered,
        node_entered_at=entered,
        **fields,
    )


@pytest.fixture
def journey(project: Project, marketer: Any) -> Journey:
    """Ten shoppers over the last days: half opened the app (yes -> mail), two bought;
    one mail failed; one shopper waits at "opened" far longer than its 2 hours."""
    journey = builder_services.journey_publish(
        journey=builder_services.journey_create(
            project=project, user=marketer, name="Cart rescue", definition=GOALS_AND_CONVERSION
        ),
        user=marketer,
    )
    now = timezone.now()
    for i in range(10):
        profile = Profile.objects.create(
            project=project, external_id=f"shopper-{i}", properties={"first_name": f"Sam{i}"}
        )
        if i == 9:
            stay(journey, profile, 0, node="opened", node_state="waiting")
            Enrollment.objects.filter(profile=profile).update(
                node_entered_at=now - timedelta(hours=6)
            )
            continue
        e = stay(
            journey, profile, i % 5, state="exited", node="opened",
            exit_node="mail" if i % 2 == 0 else "opened",
            exit_reason="goal_met" if i < 2 else "time_out", exited_at=now - timedelta(hours=i),
        )  # fmt: skip
        branch = "yes" if i % 2 == 0 else "no"
        Step.objects.create(
            enrollment=e, journey=journey, version_number=1, profile=profile, node="opened",
            visit=1, entered_at=e.entered_at, left_at=e.entered_at, outcome=branch,
            branch=branch, detail={"event": "Opened App"},
        )  # fmt: skip
        if branch == "yes":
            Message.objects.create(
                project=project, journey=journey, enrollment=e, profile=profile, node="mail",
                visit=1, channel="email", created_at=e.entered_at,
                status="failed" if i == 4 else "sent",
                error="550 mailbox unavailable" if i == 4 else "", attempts=3 if i == 4 else 1,
            )  # fmt: skip
    return journey


@pytest.fixture
def page(browser: Any, live_server: Any, project: Project) -> Iterator[Any]:
    user = UserFactory(username="mia", is_staff=False)
    MembershipFactory(project=project, user=user, role=Membership.Role.VIEWER)
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        context.close()
        connection.close()


def test_a_viewer_opens_the_report_then_segment_and_campaign_details(
    page: Any, live_server: Any, journey: Journey
) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/journeys/")
    page.get_by_role("link", name="Report of Cart rescue").click()
    page.wait_for_url(f"**/journeys/{journey.pk}/report")
    assert page.get_by_role("heading", name="Report: Cart rescue").is_visible()
    summary = page.get_by_role("region", name="Summary")
    assert "10\nEntry" in summary.inner_text()  # entries of the last 30 days
    page.wait_for_selector("#report-chart[data-drawn=true]")  # Chart.js drew it, no CSP error
    stuck = page.get_by_role("region", name="Users waiting now")
    assert "1 stuck" in stuck.inner_text()
    assert stuck.get_by_role("link", name="shopper-9").get_attribute("href") == (
        "/profiles/shopper-9/"
    )
    page.get_by_role("link", name="7 days").click()
    page.wait_for_url("**from=*")
    shot(page, "stats-report")

    page.get_by_role("link", name="Segment details of opened").click()
    page.wait_for_url(f"**/journeys/{journey.pk}/blocks/opened/segment*")
    assert page.get_by_text("Did “Opened App” within 2 hours.").is_visible()
    branches = page.get_by_role("table").first.inner_text()
    assert "yes" in branches
    assert "no" in branches
    shot(page, "stats-segment-details")

    page.go_back()
    page.go_back()
    page.get_by_role("link", name="Campaign details of mail").click()
    page.wait_for_url(f"**/journeys/{journey.pk}/blocks/mail/campaign*")
    assert page.get_by_text("550 mailbox unavailable").first.is_visible()
    page.get_by_role("link", name="Preview for this profile").first.click()
    page.wait_for_url("**profile=shopper-*")
    assert page.get_by_role("heading", name="Message preview for shopper-").is_visible()
    shot(page, "stats-campaign-details")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    assert download.value.suggested_filename == f"journey-{journey.pk}-mail-campaign.csv"

    # A recipient's link opens the builder's profile page, with that profile's timeline.
    page.get_by_role("link", name="shopper-4").first.click()
    page.wait_for_url("**/profiles/shopper-4/")
    assert page.get_by_text("Cart rescue").first.is_visible()
    assert not [e for e in errors if "Content Security Policy" in e], errors
