"""An admin sets the project's own SMTP server in a real Chromium, sends a test email to a
real SMTP server (aiosmtpd) and never sees the password again; screenshots go to
artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache

from engine import channel_settings, consent
from engine.models import Project
from tests.browser import wait_for
from tests.builder import test_pages_browser
from tests.builder.test_pages_browser import SHOTS
from tests.engine.delivery.smtp import AuthInbox, no_environment_providers, smtp_with_login
from tests.factories import ProfileFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:Requiring AUTH:UserWarning"),
]

# The browser and signed-in pages of the other settings tests.
browser = test_pages_browser.browser
new_page = test_pages_browser.new_page
shot = test_pages_browser.shot

PASSWORD = "s3cret-smtp-pass-from-the-browser-4f2a"


@pytest.fixture
def mail_server(settings: Any) -> Iterator[AuthInbox]:
    no_environment_providers(settings)
    cache.clear()  # no remembered test send of an earlier test
    with smtp_with_login("mailer", PASSWORD) as inbox:
        yield inbox
    cache.clear()


def channel_row(page: Any, label: str) -> Any:
    """The table row of a channel (its panel, once unfolded, is the next row)."""
    return page.locator("tr", has=page.get_by_role("rowheader", name=label, exact=True))


def text_of(locator: Any) -> str:
    """What a screen reader reads: the text, visually hidden parts included, spaces folded."""
    return " ".join(str(locator.text_content()).split())


def section_shot(page: Any, name: str) -> None:
    """The Channels section alone, as on the page (no sticky bar over it)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # the sticky bar stays at the top
    box = page.evaluate(
        "(() => { const r = document.getElementById('channels').getBoundingClientRect();"
        " return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height}; })()"
    )
    pad = 12
    clip = {
        "x": max(0, box["x"] - pad),
        "y": max(0, box["y"] - pad),
        "width": box["width"] + 2 * pad,
        "height": box["height"] + 2 * pad,
    }
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True, clip=clip)


def test_an_admin_configures_smtp_sends_a_test_email_and_the_password_is_not_echoed(
    new_page: Callable[..., Any],
    live_server: Any,
    marketer: Any,
    project: Project,
    mail_server: AuthInbox,
) -> None:
    page = new_page(marketer)
    page.goto(live_server.url + "/settings/")
    email = page.locator("#channel-email")
    row = channel_row(page, "Email")
    assert "Not configured: messages are recorded, not sent" in text_of(row)
    assert "Not tested yet" in text_of(row)
    # Folded: every channel is one short row.
    assert not email.is_visible()
    toggle = page.get_by_role("button", name="Edit Email settings")
    assert toggle.get_attribute("aria-expanded") == "false"
    section_shot(page, "settings-channels-collapsed")

    # Unfolded by keyboard, as by a click.
    toggle.focus()
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"
    assert email.is_visible()
    page.keyboard.press("Tab")  # the next stop is the row's first field
    assert page.evaluate("document.activeElement.id") == "ch-email-provider"

    email.get_by_label("Provider").select_option("smtp")
    email.get_by_label("From address").fill("shop@example.com")
    email.get_by_label("SMTP host").fill("127.0.0.1")
    email.get_by_label("SMTP port").fill(str(mail_server.port))
    email.get_by_label("SMTP user").fill("mailer")
    email.get_by_label("SMTP password", exact=True).fill(PASSWORD)
    email.get_by_label("Connection security").select_option("none")
    section_shot(page, "settings-channels-expanded")
    page.evaluate("window.scrollTo(0, 0)")  # the sticky bar stays at the top
    shot(page, "settings-channels-email-filled")
    email.get_by_role("button", name="Save email settings").click()

    page.get_by_text("Email settings saved").wait_for()
    # Back at /settings/#channel-email: that row unfolds by itself.
    email = page.locator("#channel-email")
    email.get_by_text("set · ends in …4f2a").wait_for()
    assert PASSWORD not in page.content()
    assert email.get_by_role("button", name="Clear SMTP password").is_visible()
    email.get_by_text("Replace SMTP password").click()
    assert email.get_by_label("New SMTP password").input_value() == ""
    assert "Configured (project): via an SMTP server" in text_of(channel_row(page, "Email"))
    assert channel_settings.project_channels(project.pk)["email"].get("password") == PASSWORD

    email.get_by_label("Send a test email to").fill("me@example.com")
    email.get_by_role("button", name="Send test email").click()
    status = page.locator("#channel-email").get_by_role("status")
    status.wait_for()
    assert "Sent through smtp" in status.inner_text()
    assert wait_for(lambda: len(mail_server.received) == 1)
    [(recipients, received)] = mail_server.received
    assert recipients == ["me@example.com"]
    assert received["From"] == "shop@example.com"
    assert mail_server.logins == ["mailer"]
    assert PASSWORD not in page.content()
    assert text_of(channel_row(page, "Email").get_by_role("cell").nth(1)).startswith("Sent ")
    page.evaluate("window.scrollTo(0, 0)")  # the sticky bar stays at the top
    shot(page, "settings-channels-email-test-sent")


def test_a_failed_save_comes_back_with_its_row_unfolded_and_the_field_focused(
    new_page: Callable[..., Any], live_server: Any, marketer: Any, project: Project
) -> None:
    page = new_page(marketer)
    page.goto(live_server.url + "/settings/")
    page.get_by_role("button", name="Edit SMS settings").click()
    sms = page.locator("#channel-sms")
    sms.get_by_label("Twilio account SID").fill("not-a-sid")
    sms.get_by_role("button", name="Save SMS settings").click()

    error = sms.get_by_text("Twilio account SID must be AC followed by 32 hexadecimal digits")
    error.wait_for()
    assert page.get_by_role("button", name="Edit SMS settings").get_attribute("aria-expanded") == (
        "true"
    )
    assert not page.locator("#channel-email").is_visible()  # the others stay folded
    assert page.evaluate("document.activeElement.id") == "ch-sms-account_sid"
    # And it folds again.
    page.get_by_role("button", name="Edit SMS settings").click()
    assert not sms.is_visible()


def test_an_admin_tests_in_app_and_web_push_on_a_profile(
    new_page: Callable[..., Any], live_server: Any, marketer: Any, project: Project
) -> None:
    cache.clear()
    ProfileFactory(project=project, external_id="u-42", email="ana@example.com")
    page = new_page(marketer)
    page.goto(live_server.url + "/settings/")

    page.get_by_role("button", name="Test In-app messages").click()
    in_app = page.locator("#channel-in_app")
    in_app.get_by_label("Send a test in-app message to").fill("ana@example.com")
    in_app.get_by_role("button", name="Send test in-app message").click()
    status = page.locator("#channel-in_app").get_by_role("status")
    status.wait_for()
    assert "Queued: no page of u-42 is open right now" in status.inner_text()
    assert text_of(channel_row(page, "In-app").get_by_role("cell").nth(1)).startswith("Queued ")
    section_shot(page, "settings-channels-in-app-test")

    # A profile that unsubscribed from in-app messages gets no test pop-up either, and
    # the page says what to do instead.
    ProfileFactory(project=project, external_id="u-7", email="bo@example.com")
    consent.subscription_set(
        profile_id=project.profiles.get(external_id="u-7").pk,
        channel="in_app",
        subscribed=False,
        source="api",
    )
    in_app.get_by_label("Send a test in-app message to").fill("u-7")
    in_app.get_by_role("button", name="Send test in-app message").click()
    refused = in_app.get_by_role("status").filter(has_text="Not sent: u-7 unsubscribed")
    refused.wait_for()
    assert "Choose another profile" in refused.inner_text()
    assert "Not sent" in text_of(channel_row(page, "In-app"))
    section_shot(page, "settings-channels-in-app-test-refused")

    page.get_by_role("button", name="Edit Web push settings").click()
    web_push = page.locator("#channel-web_push")
    web_push.get_by_label("Send a test web push to").fill("u-42")
    web_push.get_by_role("button", name="Send test web push").click()
    status = page.locator("#channel-web_push").get_by_role("status")
    status.wait_for()
    assert "u-42 has no web push subscription" in status.inner_text()
    assert "Not sent" in text_of(channel_row(page, "Web push"))
    assert not page.locator("#channel-in_app").is_visible()  # only the channel just tested
    section_shot(page, "settings-channels-web-push-test")
    cache.clear()
