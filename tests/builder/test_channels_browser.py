"""An admin sets the project's own SMTP server in a real Chromium, sends a test email to a
real SMTP server (aiosmtpd) and never sees the password again; screenshots go to
artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from engine import channel_settings
from engine.models import Project
from tests.browser import wait_for
from tests.builder import test_pages_browser
from tests.engine.delivery.smtp import AuthInbox, no_environment_providers, smtp_with_login

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
    with smtp_with_login("mailer", PASSWORD) as inbox:
        yield inbox


def test_an_admin_configures_smtp_sends_a_test_email_and_the_password_is_not_echoed(
    new_page: Callable[..., Any],
    live_server: Any,
    marketer: Any,
    project: Project,
    mail_server: AuthInbox,
) -> None:
    page = new_page(marketer)
    page.goto(live_server.url + "/settings/#channel-email")
    email = page.locator("#channel-email")
    row = page.get_by_role("row", name="Email")
    assert "Recorded only" in row.inner_text()

    email.get_by_label("Provider").select_option("smtp")
    email.get_by_label("From address").fill("shop@example.com")
    email.get_by_label("SMTP host").fill("127.0.0.1")
    email.get_by_label("SMTP port").fill(str(mail_server.port))
    email.get_by_label("SMTP user").fill("mailer")
    email.get_by_label("SMTP password", exact=True).fill(PASSWORD)
    email.get_by_label("Connection security").select_option("none")
    shot(page, "settings-channels-email-filled")
    email.get_by_role("button", name="Save email settings").click()

    page.get_by_text("Email settings saved").wait_for()
    email = page.locator("#channel-email")
    email.get_by_text("set · ends in …4f2a").wait_for()
    assert PASSWORD not in page.content()
    assert email.get_by_role("button", name="Clear SMTP password").is_visible()
    email.get_by_text("Replace SMTP password").click()
    assert email.get_by_label("New SMTP password").input_value() == ""
    assert "Sending (smtp)" in page.get_by_role("row", name="Email").inner_text()
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
    shot(page, "settings-channels-email-test-sent")
