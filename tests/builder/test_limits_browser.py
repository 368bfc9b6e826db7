"""An admin sets frequency caps and quiet hours on /settings/limits in a real Chromium: a bad
value is named next to its field and in an alert, a good one is saved; screenshots go to
artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine import limits
from engine.models import Project
from tests.builder import test_pages_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The browser and signed-in pages of the other settings tests.
browser = test_pages_browser.browser
new_page = test_pages_browser.new_page
shot = test_pages_browser.shot


def test_an_admin_sets_caps_and_quiet_hours_and_is_told_what_to_fix(
    new_page: Callable[..., Any], live_server: Any, marketer: Any, project: Project
) -> None:
    page = new_page(marketer)
    page.goto(live_server.url + "/settings/")
    page.get_by_role("link", name="Message limits").click()
    page.get_by_role("heading", name="Message limits").wait_for()

    page.get_by_label("SMS per day").fill("0")
    page.get_by_label("Email per week").fill("10")
    page.get_by_label("Quiet hours start").fill("21:00")
    page.get_by_role("button", name="Save limits").click()

    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "SMS per day: must be a whole number from 1 to 1000" in alert.inner_text()
    assert "Quiet hours end: is required" in alert.inner_text()
    sms_day = page.get_by_label("SMS per day")
    assert sms_day.get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Email per week").input_value() == "10"  # kept to fix the rest
    shot(page, "settings-limits-errors")
    assert limits.limits_get(project).empty

    alert.get_by_role("link", name="SMS per day").click()
    assert sms_day.evaluate("el => document.activeElement === el || location.hash === '#sms_day'")
    sms_day.fill("2")
    page.get_by_label("Quiet hours end").fill("08:00")
    page.get_by_role("button", name="Save limits").click()
    page.get_by_text("Message limits saved.").wait_for()
    assert page.get_by_label("SMS per day").input_value() == "2"
    assert page.get_by_label("Quiet hours end").input_value() == "08:00"
    shot(page, "settings-limits-saved")
    assert limits.limits_get(project).as_dict() == {
        "frequency_caps": {"email": {"week": 10}, "sms": {"day": 2}},
        "quiet_hours": {"start": "21:00", "end": "08:00"},
    }
