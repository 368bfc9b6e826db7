"""Pages still work in a real browser under the Content Security Policy, and load nothing
from another site (the API docs included)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from builder import services as builder_services
from engine.models import Project
from tests.browser import launch_chromium
from tests.stats.journeys import neither

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


class Visit:
    """A page opened in a fresh context, with every request and console complaint kept."""

    def __init__(self, browser: Any, base: str, user: Any = None) -> None:
        self.base = base
        self.context = browser.new_context()
        if user is not None:
            client = Client()
            client.force_login(user)
            self.context.add_cookies(
                [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}]
            )
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.requests: list[str] = []
        self.complaints: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on(
            "console",
            lambda m: (
                self.complaints.append(m.text)
                if "Content Security Policy" in m.text or "Refused to" in m.text
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.complaints.append(f"page error: {e}"))

    def open(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")
        return response

    def foreign_requests(self) -> list[str]:
        return [
            u
            for u in self.requests
            if not u.startswith((self.base + "/", "data:", "blob:"))
            and not u.startswith(self.base.replace("http://", "ws://") + "/")
        ]


@pytest.fixture
def visit(browser: Any, live_server: Any) -> Iterator[Any]:
    visits: list[Visit] = []

    def make(user: Any = None) -> Visit:
        v = Visit(browser, live_server.url, user)
        visits.append(v)
        return v

    try:
        yield make
    finally:
        for v in visits:
            v.context.close()
        connection.close()


def test_the_api_docs_render_from_our_own_files_under_the_policy(visit: Any) -> None:
    v = visit()
    response = v.open("/api/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # Swagger UI has rendered the schema: the operations are listed by their paths.
    v.page.get_by_text("/api/v1/auth/token").first.wait_for()
    assert v.foreign_requests() == []
    assert v.complaints == []


def test_the_sign_in_pages_work_under_the_policy(visit: Any, marketer: Any) -> None:
    for path in ("/login/", "/admin/login/"):
        v = visit()
        v.open(path)
        v.page.get_by_label("Username").fill("ana")
        v.page.get_by_label("Password").fill("pw-for-tests")
        v.page.get_by_role("button", name="Log in").or_(
            v.page.get_by_role("button", name="Sign in")
        ).first.click()
        v.page.wait_for_load_state("networkidle")
        assert v.foreign_requests() == [], path
        assert v.complaints == [], path


def test_the_marketer_pages_the_canvas_and_the_reports_work_under_the_policy(
    visit: Any, marketer: Any, project: Project
) -> None:
    journey = builder_services.journey_create(
        project=project, user=marketer, name="Live", definition=neither()
    )
    journey = builder_services.journey_publish(journey=journey, user=marketer)
    v = visit(marketer)
    for path in (
        "/journeys/",
        "/settings/",
        "/profiles/",
        f"/journeys/{journey.pk}/",
        f"/journeys/{journey.pk}/blocks/opened/segment",
        f"/journeys/{journey.pk}/blocks/mail/campaign",
    ):
        response = v.open(path)
        assert response.status == 200, path
    # The canvas drew its blocks (its script ran and its inline styles applied).
    v.open(f"/journeys/{journey.pk}/")
    assert v.page.locator(".react-flow__node").count() > 0
    assert v.foreign_requests() == []
    assert v.complaints == []


def test_the_admin_works_under_the_policy(visit: Any, staff: Any) -> None:
    v = visit(staff)
    for path in ("/admin/", "/admin/accounts/apitoken/", "/admin/engine/project/add/"):
        assert v.open(path).status == 200, path
    assert v.foreign_requests() == []
    assert v.complaints == []


def test_an_admin_invites_from_settings_and_the_invitee_accepts_from_the_link(
    visit: Any, marketer: Any, project: Project, other_marketer: Any
) -> None:
    admin = visit(marketer)
    admin.open("/settings/")
    admin.page.get_by_label("Username").fill("bob")
    admin.page.get_by_label("Role", exact=True).select_option("viewer")
    admin.page.get_by_role("button", name="Invite").click()
    admin.page.wait_for_load_state("networkidle")
    message = admin.page.get_by_text("Send them this link").inner_text()
    link = message.split("(shown only once): ")[1].strip()
    assert link.startswith(admin.base + "/invitations/")
    invitations = admin.page.get_by_role("table", name="Pending invitations")
    assert "bob" in invitations.inner_text()

    bob = visit(other_marketer)
    bob.open(link.removeprefix(bob.base))
    assert "Join Shop" in bob.page.get_by_role("heading", level=1).inner_text()
    bob.page.get_by_role("button", name="Accept").click()
    bob.page.wait_for_load_state("networkidle")
    bob.page.get_by_text("You joined Shop as viewer.").wait_for()

    admin.open("/settings/")
    members = admin.page.get_by_role("table", name="Members of Shop").inner_text()
    assert "bob" in members
    assert admin.complaints == bob.complaints == []
