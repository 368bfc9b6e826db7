"""The unsubscribe link of an email in a real Chromium: the page asks first (a GET changes
nothing), the button unsubscribes, the done page offers to subscribe again; the marketer's
profile page then shows the status with when and how it changed. Screenshots go to
artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine import consent
from engine.models import Project, Subscription
from tests.browser import wait_for
from tests.builder import test_pages_browser
from tests.factories import ProfileFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

browser = test_pages_browser.browser
new_page = test_pages_browser.new_page
shot = test_pages_browser.shot


def status(profile: Any) -> bool | None:
    row = Subscription.objects.filter(profile=profile, channel="email").first()
    return None if row is None else row.subscribed


def test_a_reader_unsubscribes_from_the_link_and_the_marketer_sees_it(
    new_page: Callable[..., Any], live_server: Any, marketer: Any, project: Project
) -> None:
    profile = ProfileFactory(project=project, external_id="u-7", email="ana@example.com")
    token = consent.unsubscribe_token(project_id=project.pk, profile_id=profile.pk, channel="email")
    reader = new_page()
    reader.goto(f"{live_server.url}/unsubscribe/{token}")
    reader.get_by_role("heading", name=f"Unsubscribe from {project.name}?").wait_for()
    assert "a***@example.com" in reader.get_by_role("main").inner_text()
    shot(reader, "unsubscribe-confirm")
    assert status(profile) is None  # looking is not unsubscribing (link scanners GET it)

    reader.get_by_role("button", name="Unsubscribe").click()
    reader.get_by_role("heading", name="You are unsubscribed").wait_for()
    shot(reader, "unsubscribe-done")
    assert wait_for(lambda: status(profile) is False)
    assert Subscription.objects.get(profile=profile).source == "unsubscribe_link"

    reader.get_by_role("button", name="Subscribe again").click()
    reader.get_by_role("heading", name="You are subscribed again").wait_for()
    assert wait_for(lambda: status(profile) is True)
    assert reader.get_by_role("button", name="Subscribe again").count() == 0

    # A changed token is refused with a plain page.
    reader.goto(f"{live_server.url}/unsubscribe/{token[:-4]}abcd")
    reader.get_by_role("heading", name="This unsubscribe link is not valid").wait_for()
    shot(reader, "unsubscribe-invalid")

    consent.subscription_set(
        profile_id=profile.pk, channel="email", subscribed=False, source="one_click"
    )
    page = new_page(marketer)
    page.goto(f"{live_server.url}/profiles/u-7/")
    table = page.get_by_role("table").filter(has_text="Channel")
    row = table.get_by_role("row", name="Email")
    row.wait_for()
    assert "Unsubscribed" in row.inner_text()
    assert "one-click unsubscribe from the mail app" in row.inner_text()
    assert "Subscribed" in table.get_by_role("row", name="SMS").inner_text()
    shot(page, "profile-subscriptions")
