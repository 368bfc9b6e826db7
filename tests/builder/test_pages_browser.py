"""The marketer's pages in a real Chromium: sign in as a member who is not staff, the journey
list (create, search, filter), settings read-only for a viewer, key rotation by an admin, a
profile's timeline; screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from builder import services as builder_services
from builder.models import Journey
from engine.management.commands.load_demo import DEMO_JOURNEYS
from engine.models import Enrollment, Membership, Profile, Project, Step
from tests.browser import launch_chromium, wait_for
from tests.factories import MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
T = TypeVar("T")


def shot(page: Any, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


@pytest.fixture
def new_page(browser: Any, live_server: Any) -> Iterator[Callable[..., Any]]:
    """new_page(user=None) -> a page of a new browser context, signed in as ``user`` if given."""
    contexts: list[Any] = []

    def make(user: Any = None) -> Any:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        contexts.append(context)
        if user is not None:
            client = Client()
            client.force_login(user)
            context.add_cookies(
                [
                    {
                        "name": "sessionid",
                        "value": client.cookies["sessionid"].value,
                        "url": live_server.url,
                    }
                ]
            )
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    try:
        yield make
    finally:
        for context in contexts:
            context.close()
        connection.close()


def stocked(project: Project, user: Any) -> dict[str, Journey]:
    """The demo journeys in ``project``, the cart one live with users in it and out of it."""
    journeys = {
        name: builder_services.journey_create(
            project=project, user=user, name=name, definition=definition
        )
        for name, definition in DEMO_JOURNEYS
    }
    cart = builder_services.journey_publish(journey=journeys["Cart abandonment"], user=user)
    journeys["Cart abandonment"] = cart
    version = Journey.objects.get(pk=cart.pk).live_version
    assert version is not None
    now = timezone.now()
    outcomes = ["goal_met"] * 9 + ["time_out"] * 5 + [""] * 6
    for i, reason in enumerate(outcomes):
        profile = Profile.objects.create(
            project=project,
            external_id=f"shopper-{i:02d}",
            email=f"shopper{i}@example.com",
            properties={"first_name": ["Ana", "Ben", "Chen", "Dara"][i % 4], "plan": "pro"},
        )
        state = Enrollment.State.EXITED if reason else Enrollment.State.ACTIVE
        Enrollment.objects.create(
            project=project,
            journey=cart,
            version=version,
            profile=profile,
            node="mail" if reason else "wait",
            state=state,
            exit_reason=reason,
            entered_at=now - timedelta(hours=30 - i),
            exited_at=now - timedelta(hours=2) if reason else None,
        )
    return journeys


def test_a_member_who_is_not_staff_signs_in_sees_the_list_and_creates_a_journey(
    new_page: Callable[..., Any], live_server: Any, marketer: Any, project: Project
) -> None:
    assert not marketer.is_staff
    stocked(project, marketer)
    page = new_page()
    page.goto(live_server.url + "/")
    assert page.url.endswith("/login/?next=/")
    page.get_by_label("Username").fill("ana")
    page.get_by_label("Password").fill("pw-for-tests")
    shot(page, "sign-in", full_page=False)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/journeys/$"))
    assert page.get_by_role("heading", name="Journeys").is_visible()
    table = page.get_by_role("table")
    for name, _ in DEMO_JOURNEYS:
        assert table.get_by_role("link", name=name, exact=True).is_visible()
    cart_row = table.get_by_role("row").filter(has_text="Cart abandonment")
    assert "Live" in cart_row.inner_text()
    assert "45.0%" in cart_row.inner_text()  # 9 goal met of 20 entered
    assert page.get_by_role("combobox", name="Project").input_value() == str(project.pk)
    assert page.get_by_role("button", name="Log out").is_visible()
    shot(page, "journey-list")

    page.get_by_role("link", name="New journey").click()
    page.get_by_label("Journey name").fill("Spring sale")
    page.get_by_role("button", name="Create journey").click()
    journey = wait_for(lambda: Journey.objects.filter(name="Spring sale").first())
    assert journey is not None
    page.wait_for_url(re.compile(rf"/journeys/{journey.pk}/$"))
    assert journey.status == "draft"
    assert journey.created_by_id == marketer.pk


def test_search_and_status_filter_narrow_the_list(
    new_page: Callable[..., Any], live_server: Any, marketer: Any, project: Project
) -> None:
    stocked(project, marketer)
    page = new_page(marketer)
    page.goto(live_server.url + "/journeys/")
    page.get_by_role("searchbox", name="Search journeys").fill("welcome")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"q=welcome"))
    table = page.get_by_role("table")
    assert table.get_by_role("link", name="Welcome series", exact=True).is_visible()
    assert table.get_by_role("link", name="Cart abandonment", exact=True).count() == 0
    page.get_by_role("link", name="Clear filters").first.click()
    page.get_by_label("Status").select_option("live")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"status=live"))
    table = page.get_by_role("table")
    assert table.get_by_role("link", name="Cart abandonment", exact=True).is_visible()
    assert table.get_by_role("link", name="Welcome series", exact=True).count() == 0
    assert page.get_by_text("1 of 3 journeys").is_visible()


def test_a_viewer_reads_settings_and_cannot_change_anything(
    new_page: Callable[..., Any], live_server: Any, project: Project, viewer: Any
) -> None:
    page = new_page(viewer)
    page.goto(live_server.url + "/settings/")
    assert page.get_by_label("Project name").is_disabled()
    assert page.get_by_label("Time zone").is_disabled()
    assert page.get_by_label("Require identity verification").is_disabled()
    assert page.get_by_role("button", name="Save settings").count() == 0
    assert page.get_by_role("button", name=re.compile("^Rotate")).count() == 0
    key = page.get_by_label("Server key")
    assert key.input_value() == project.ingest_key
    assert page.get_by_role("button", name="Copy server key").is_visible()
    assert page.get_by_text("only a project admin can change them").is_visible()


def test_an_admin_rotates_the_server_key_and_sees_the_new_one(
    new_page: Callable[..., Any], live_server: Any, marketer: Any, project: Project
) -> None:
    editor = UserFactory(username="eve", first_name="Eve", last_name="Martin")
    MembershipFactory(project=project, user=editor, role=Membership.Role.EDITOR)
    old = project.ingest_key
    page = new_page(marketer)
    page.goto(live_server.url + "/settings/")
    shot(page, "settings")
    snippet = page.get_by_label("Web SDK snippet").input_value()
    assert f'data-key="{project.sdk_key}"' in snippet
    assert snippet.startswith(f'<script src="{live_server.url}/static/sdk/journeys.js"')
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate server key").click()
    page.get_by_text("The old one stops working now").wait_for()
    project.refresh_from_db()
    assert project.ingest_key != old
    assert page.get_by_label("Server key").input_value() == project.ingest_key
    page.get_by_role("button", name="Copy server key").click()
    page.get_by_text("Copied").first.wait_for()


def test_a_profile_page_shows_properties_and_the_journey_timeline(
    new_page: Callable[..., Any], live_server: Any, marketer: Any, project: Project
) -> None:
    journeys = stocked(project, marketer)
    cart = Journey.objects.get(pk=journeys["Cart abandonment"].pk)
    profile = Profile.objects.get(project=project, external_id="shopper-00")
    enrollment = Enrollment.objects.get(profile=profile)
    t0 = enrollment.entered_at
    assert t0 is not None
    for node, outcome, offset, detail in [
        ("entry", "next", 0, {"entry": "action"}),
        ("wait", "next", 60, {}),
        (
            "paid",
            "no",
            61,
            {
                "match": "all",
                "window_days": 1,
                "conditions": [{"kind": "did", "event": "Charged", "count": 0, "met": False}],
            },
        ),
        ("push", "next", 61, {}),
        ("mail", "exit", 62, {"reason": "goal_met", "goal": "bought"}),
    ]:
        Step.objects.create(
            enrollment=enrollment,
            journey=cart,
            version_number=1,
            profile=profile,
            node=node,
            visit=1,
            entered_at=t0 + timedelta(minutes=offset),
            left_at=t0 + timedelta(minutes=offset + 1),
            outcome=outcome,
            detail=detail,
        )
    page = new_page(marketer)
    page.goto(live_server.url + "/profiles/")
    page.get_by_role("searchbox", name="Search profiles").fill("shopper0@example.com")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="shopper-00").click()
    page.wait_for_url(re.compile(r"/profiles/shopper-00/$"))
    assert page.get_by_role("heading", name="Ana").is_visible()
    timeline = page.get_by_role("region", name="Journey timeline")
    assert timeline.get_by_role("link", name="Cart abandonment", exact=True).is_visible()
    text = timeline.inner_text()
    assert "Bought in the last day?" in text  # the block's label, not its id
    assert "Did not match, so took the no path" in text
    assert "did Charged, 0 times (no)" in text
    assert "Reached the goal" in text
    shot(page, "profile")


def test_the_project_switcher_changes_project_when_a_project_is_chosen(
    new_page: Callable[..., Any], live_server: Any, marketer: Any, project: Project
) -> None:
    blog = Project.objects.create(name="Blog")
    MembershipFactory(project=blog, user=marketer, role=Membership.Role.VIEWER)
    builder_services.journey_create(
        project=blog, user=marketer, name="Newsletter", definition=DEMO_JOURNEYS[2][1]
    )
    page = new_page(marketer)
    page.goto(live_server.url + "/journeys/")
    assert page.get_by_text("No journeys yet").is_visible()
    assert page.get_by_role("button", name="Switch").is_hidden()  # the select submits itself
    page.get_by_role("combobox", name="Project").select_option(label="Blog")
    page.get_by_text("You are now working in Blog.").wait_for()
    assert page.get_by_role("link", name="Newsletter", exact=True).is_visible()
    assert page.get_by_role("link", name="New journey").count() == 0  # a viewer in Blog
    assert page.get_by_text("Viewer", exact=True).is_visible()
