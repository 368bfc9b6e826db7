"""The Channels section of the settings page: admins set providers (secrets never rendered
back), members only read, test sends say what happened, the campaign page follows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from engine import channel_settings
from engine.models import ChannelSetting, Membership, Project
from tests.engine.delivery.smtp import no_environment_providers, smtp_with_login
from tests.engine.delivery.test_channel_settings import service_account
from tests.factories import MembershipFactory, ProfileFactory, UserFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:Requiring AUTH:UserWarning"),
]

PASSWORD = "page-password-0123456789-beef"
TOKEN = "twilio-token-for-the-page-5e5e"
SID = "AC" + "0123456789abcdef" * 2


@pytest.fixture(autouse=True)
def _no_environment_providers(settings: Any) -> Iterator[None]:
    no_environment_providers(settings)
    # Test sends are remembered (and test pop-ups wait) in the cache: none leaks between tests.
    cache.clear()
    yield
    cache.clear()


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def smtp_form(port: int) -> dict[str, Any]:
    return {
        "provider": "smtp",
        "host": "127.0.0.1",
        "port": str(port),
        "security": "none",
        "username": "mailer",
        "password": PASSWORD,
        "from_email": "shop@example.com",
        "esp": "",
    }


def channel_block(html: str, channel: str) -> str:
    """The channel's unfolding panel (up to the next channel's row)."""
    return html.split(f'id="channel-{channel}"', 1)[1].split('class="channel-row"', 1)[0]


def channel_row(html: str, channel: str) -> str:
    """The channel's row in the table: name, status, last test, its disclosure button."""
    return html.split(f'<th scope="row">{channel}</th>', 1)[1].split("</tr>", 1)[0]


def test_an_admin_saves_smtp_and_the_page_shows_set_not_the_password(
    marketer: Any, project: Project
) -> None:
    client = signed_in(marketer)
    response = client.post("/settings/channels/email", smtp_form(2525), follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert PASSWORD not in html
    assert "Email settings saved" in html
    block = channel_block(html, "email")
    assert "set · ends in …beef" in block
    assert 'value="127.0.0.1"' in block
    assert ">Clear SMTP password</button>" in block
    assert ">Replace SMTP password</summary>" in block
    row = channel_row(html, "Email")
    assert "Configured (project)" in row
    assert "via an SMTP server" in row
    # Saving again without typing the password keeps it.
    again = smtp_form(587)
    again["password"] = ""
    client.post("/settings/channels/email", again)
    config = channel_settings.project_channels(project.pk)["email"]
    assert (config.get("port"), config.get("password")) == (587, PASSWORD)


def test_a_bad_field_comes_back_with_its_error_and_no_secret(
    marketer: Any, project: Project
) -> None:
    form = smtp_form(99999)
    response = signed_in(marketer).post("/settings/channels/email", form)
    assert response.status_code == 400
    html = response.content.decode()
    block = channel_block(html, "email")
    assert 'id="ch-email-port-error"' in block
    assert "SMTP port must be between 1 and 65535" in block
    assert 'aria-invalid="true"' in block
    assert 'value="99999"' in block  # what was typed stays, to be corrected
    assert PASSWORD not in html
    assert not ChannelSetting.objects.exists()


def test_clear_removes_one_secret_and_use_the_deployments_removes_all(
    marketer: Any, project: Project
) -> None:
    client = signed_in(marketer)
    client.post("/settings/channels/email", smtp_form(2525))
    client.post("/settings/channels/email", {"clear": "password"})
    config = channel_settings.project_channels(project.pk)["email"]
    assert "password" not in config.secrets
    assert config.get("host") == "127.0.0.1"  # the rest is kept
    client.post("/settings/channels/email/clear")
    assert not ChannelSetting.objects.filter(project=project).exists()


def test_a_service_account_can_be_uploaded_as_a_file(marketer: Any, project: Project) -> None:
    info = service_account()
    upload = SimpleUploadedFile("key.json", json.dumps(info).encode(), "application/json")
    response = signed_in(marketer).post(
        "/settings/channels/push", {"service_account_file": upload}, follow=True
    )
    html = response.content.decode()
    assert "push@shop-app.iam.gserviceaccount.com · key …7a3e" in html
    assert "PRIVATE KEY" not in html
    assert channel_settings.project_channels(project.pk)["push"].backend == "fcm"


def test_a_test_email_is_sent_and_the_page_says_so(marketer: Any, project: Project) -> None:
    client = signed_in(marketer)
    with smtp_with_login("mailer", PASSWORD) as inbox:
        client.post("/settings/channels/email", smtp_form(inbox.port))
        response = client.post("/settings/channels/email/test", {"to": "me@example.com"})
        assert response["Location"] == "/settings/#channel-email"
        html = client.get("/settings/").content.decode()
    assert len(inbox.received) == 1
    block = channel_block(html, "email")
    assert "Test send to me@example.com: Sent through smtp" in block
    assert 'role="status"' in block
    assert "Test send" not in client.get("/settings/").content.decode()  # said once


def test_a_test_sms_without_a_provider_says_nothing_left(marketer: Any, project: Project) -> None:
    client = signed_in(marketer)
    client.post("/settings/channels/sms/test", {"to": "+15551234567"})
    html = client.get("/settings/").content.decode()
    assert "Not sent: this channel has no provider" in channel_block(html, "sms")


def test_members_see_status_only_and_cannot_write(marketer: Any, project: Project) -> None:
    signed_in(marketer).post(
        "/settings/channels/sms",
        {"account_sid": SID, "auth_token": TOKEN, "from_number": "+15550001111"},
    )
    viewer = UserFactory(username="vic")
    MembershipFactory(project=project, user=viewer, role=Membership.Role.VIEWER)
    editor = UserFactory(username="eddie")
    MembershipFactory(project=project, user=editor, role=Membership.Role.EDITOR)
    for user in (viewer, editor):
        client = signed_in(user)
        html = client.get("/settings/").content.decode()
        assert TOKEN not in html
        block = channel_block(html, "sms")
        assert "<form" not in block
        assert SID in block  # the account SID is not a secret
        assert "set · ends in …5e5e" in block
        for path in ("/settings/channels/sms", "/settings/channels/sms/clear"):
            assert client.post(path, {"auth_token": "x"}).status_code == 403
        assert client.post("/settings/channels/sms/test", {"to": "+1555"}).status_code == 403
    assert channel_settings.project_channels(project.pk)["sms"].get("auth_token") == TOKEN


def disclosure(html: str, channel: str) -> tuple[str, bool]:
    """(the row's disclosure button, whether its panel is rendered unfolded)."""
    button = channel_row(html, channel_settings.CHANNEL_LABELS[channel]).split("<button", 1)[1]
    panel = html.split(f'id="channel-{channel}-panel"', 1)[1].split(">", 1)[0]
    expanded = 'aria-expanded="true"' in button
    assert expanded == ("hidden" not in panel)  # the button says what the panel is
    assert f'aria-controls="channel-{channel}-panel"' in button
    return button, expanded


def test_every_channel_is_a_folded_row_with_its_status_and_last_test(
    marketer: Any, project: Project
) -> None:
    html = signed_in(marketer).get("/settings/").content.decode()
    for channel, label in channel_settings.CHANNEL_LABELS.items():
        _button, expanded = disclosure(html, channel)
        assert not expanded
        assert "Not tested yet" in channel_row(html, label)
    assert (
        'Edit<span class="visually-hidden"> Email settings</span>' in disclosure(html, "email")[0]
    )
    assert (
        'Test<span class="visually-hidden"> In-app messages</span>' in disclosure(html, "in_app")[0]
    )
    assert "Not configured" in channel_row(html, "SMS")
    assert "messages are recorded, not sent" in channel_row(html, "SMS")
    assert "From environment" in channel_row(html, "Web push")
    assert "via the web SDK on your pages" in channel_row(html, "In-app")
    # In-app has nothing to set but can be tested; web push can be tested too.
    assert 'id="test-in_app"' in channel_block(html, "in_app")
    assert ">Send test in-app message</button>" in channel_block(html, "in_app")
    assert ">Send test web push</button>" in channel_block(html, "web_push")


def test_the_row_of_a_form_with_errors_unfolds_by_itself(marketer: Any, project: Project) -> None:
    html = signed_in(marketer).post("/settings/channels/email", smtp_form(99999)).content.decode()
    assert disclosure(html, "email")[1]
    assert not disclosure(html, "sms")[1]


def test_a_test_send_unfolds_its_row_once_and_the_row_keeps_its_outcome(
    marketer: Any, project: Project
) -> None:
    ProfileFactory(project=project, external_id="u-42")
    client = signed_in(marketer)
    response = client.post("/settings/channels/in_app/test", {"to": "u-42"})
    assert response["Location"] == "/settings/#channel-in_app"
    html = client.get("/settings/").content.decode()
    assert disclosure(html, "in_app")[1]
    block = channel_block(html, "in_app")
    assert "Test send to u-42: Queued: no page of u-42 is open right now." in block
    row = channel_row(html, "In-app")
    assert '<span class="status status-scheduled">Queued</span>' in row
    assert " UTC" in row
    # Later visits: folded again, the row still says how the latest test went.
    html = client.get("/settings/").content.decode()
    assert not disclosure(html, "in_app")[1]
    assert '<span class="status status-scheduled">Queued</span>' in channel_row(html, "In-app")
    assert "Last test (" in channel_block(html, "in_app")
    assert 'name="to" aria-describedby="test-in_app-hint" value="u-42"' in channel_block(
        html, "in_app"
    )  # testing again is one click
    # Members read how it went, not whom it went to.
    viewer = UserFactory(username="vic")
    MembershipFactory(project=project, user=viewer, role=Membership.Role.VIEWER)
    assert "u-42" not in channel_row(signed_in(viewer).get("/settings/").content.decode(), "In-app")


def test_a_test_web_push_to_a_profile_without_a_browser_says_what_to_do(
    marketer: Any, project: Project
) -> None:
    ProfileFactory(project=project, external_id="u-1", email="ana@example.com")
    client = signed_in(marketer)
    client.post("/settings/channels/web_push/test", {"to": "ana@example.com"})
    html = client.get("/settings/").content.decode()
    block = channel_block(html, "web_push")
    assert "u-1 has no web push subscription" in block
    assert "message-error" in block
    assert '<span class="status status-paused">Not sent</span>' in channel_row(html, "Web push")


def test_a_test_to_no_profile_says_so_and_remembers_nothing(
    marketer: Any, project: Project
) -> None:
    client = signed_in(marketer)
    client.post("/settings/channels/in_app/test", {"to": "ghost"})
    html = client.get("/settings/").content.decode()
    assert "Not sent: what you typed names no profile of this project" in channel_block(
        html, "in_app"
    )
    assert "Not tested yet" in channel_row(html, "In-app")
