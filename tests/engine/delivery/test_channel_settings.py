"""A project's own channel settings: stored encrypted, preferred over the environment, used
by delivery against a real SMTP server and a local stand-in for Twilio's API."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import connection

from engine import channel_settings
from engine.channel_settings import ChannelSettingsInvalid, channel_settings_write
from engine.channels import backend_name, get_sender, unconfigured_channels
from engine.delivery import deliver_message, deliver_messages
from engine.models import ChannelSetting, Message, Project
from tests.engine.delivery.conftest import LocalServer, MakeMessage, Reply
from tests.engine.delivery.smtp import smtp_with_login
from tests.engine.delivery.test_email import RENDERED, Inbox

# aiosmtpd warns that AUTH without TLS is unsafe: on 127.0.0.1 it is on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH:UserWarning")

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token-9f3c4f2a"
PASSWORD = "smtp-password-77e1c0de"


@pytest.fixture
def env_smtp(settings: Any) -> Iterator[Inbox]:
    """The deployment's own SMTP server (EMAIL_URL), without a login."""
    with smtp_with_login("", "") as inbox:
        settings.EMAIL_URL = f"smtp://127.0.0.1:{inbox.port}"
        yield inbox


def smtp_settings(port: int, **over: Any) -> dict[str, Any]:
    return {
        "provider": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "username": "mailer",
        "password": PASSWORD,
        "security": "none",
        "from_email": "news@shop.example",
        **over,
    }


def project_of(message: Message) -> Project:
    return Project.objects.get(pk=message.project_id)


def test_an_email_goes_through_the_projects_own_smtp_server_with_its_login(
    make_message: MakeMessage, env_smtp: Inbox
) -> None:
    # The environment has a server too (the smtp fixture): the project's own wins.
    message = make_message("email", RENDERED)
    with smtp_with_login("mailer", PASSWORD) as own:
        channel_settings_write(
            project=project_of(message), channel="email", data=smtp_settings(own.port), replace=True
        )
        deliver_messages([message.pk])  # the batch path: settings loaded once, sent by a thread

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.delivery["backend"] == "smtp"
    assert own.logins == ["mailer"]
    [(recipients, received)] = own.received
    assert recipients == ["ana@example.com"]
    assert received["From"] == "news@shop.example"
    assert received["Message-ID"] == f"<journeys-msg-{message.pk}@shop.example>"
    assert env_smtp.received == []


def test_a_wrong_smtp_password_fails_the_message_and_says_so(make_message: MakeMessage) -> None:
    message = make_message("email", RENDERED)
    with smtp_with_login("mailer", PASSWORD) as own:
        channel_settings_write(
            project=project_of(message),
            channel="email",
            data=smtp_settings(own.port, password="not-the-password"),
            replace=True,
        )
        after = deliver_message(message.pk)
    assert after is not None
    assert after.status == Message.Status.FAILED
    assert "535" in after.error  # authentication failed: trying again cannot help
    assert own.received == []


def test_without_project_settings_the_environment_still_applies(
    make_message: MakeMessage, env_smtp: Inbox
) -> None:
    message = make_message("email", RENDERED)
    assert backend_name("email", message.project_id) == "smtp"
    after = deliver_message(message.pk)
    assert after is not None
    assert after.status == Message.Status.SENT
    assert len(env_smtp.received) == 1


def test_an_sms_goes_to_twilio_with_the_projects_account(
    make_message: MakeMessage, settings: Any, http_server: LocalServer
) -> None:
    settings.TWILIO_API_URL = http_server.url  # the operator's base URL (a local stand-in)
    message = make_message("sms", {"to": "+15551234567", "body": "Your code is 42"})
    assert backend_name("sms", message.project_id) == "record"
    channel_settings_write(
        project=project_of(message),
        channel="sms",
        data={"account_sid": SID, "auth_token": TOKEN, "from_number": "+15550001111"},
        replace=True,
    )
    assert backend_name("sms", message.project_id) == "twilio"
    http_server.reply(Reply(201, {"sid": "SM42", "status": "queued"}))

    after = deliver_message(message.pk)

    assert after is not None
    assert after.status == Message.Status.SENT
    assert after.delivery["provider_id"] == "SM42"
    [request] = http_server.requests
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    auth = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {auth}"
    assert parse_qs(request.body.decode()) == {
        "To": ["+15551234567"],
        "From": ["+15550001111"],
        "Body": ["Your code is 42"],
    }


def test_secrets_are_stored_encrypted_and_never_in_the_public_view(project: Project) -> None:
    channel_settings_write(project=project, channel="email", data=smtp_settings(2525), replace=True)
    with connection.cursor() as cursor:
        cursor.execute('SELECT secrets, "values", secret_hints FROM engine_channelsetting')
        stored = " ".join(str(c) for c in cursor.fetchone())
    assert PASSWORD not in stored
    public = channel_settings.channel_settings_public(project)
    assert PASSWORD not in json.dumps(public, default=str)
    assert public["email"]["secrets"]["password"] == {"set": True, "hint": "ends in …c0de"}
    assert public["email"]["settings"]["host"] == "127.0.0.1"
    assert public["sms"]["source"] == "environment"
    config = channel_settings.project_channels(project.pk)["email"]
    assert config.get("password") == PASSWORD  # decrypted only to send


def test_secrets_a_changed_key_cannot_open_fail_the_send_with_a_plain_reason(
    make_message: MakeMessage, settings: Any
) -> None:
    message = make_message("email", RENDERED)
    channel_settings_write(
        project=project_of(message), channel="email", data=smtp_settings(2525), replace=True
    )
    settings.JOURNEYS_SECRETS_KEY = "a-new-key"
    settings.SECRET_KEY = "another-secret-key-entirely-0123456789"
    after = deliver_message(message.pk)
    assert after is not None
    assert after.status == Message.Status.FAILED
    assert "cannot be decrypted" in after.error
    assert "enter them again" in after.error


def test_an_explicit_secrets_key_keeps_older_secrets_readable_and_reencrypts_them(
    project: Project, settings: Any
) -> None:
    channel_settings_write(project=project, channel="email", data=smtp_settings(2525), replace=True)
    settings.JOURNEYS_SECRETS_KEY = "new-key-1,old-key-0"
    assert channel_settings.project_channels(project.pk)["email"].get("password") == PASSWORD
    assert channel_settings.secrets_reencrypt() == 1
    settings.SECRET_KEY = "the-secret-key-changed-after-the-rotation-00"
    assert channel_settings.project_channels(project.pk)["email"].get("password") == PASSWORD


def test_leaving_a_secret_out_keeps_it_and_null_clears_it(project: Project) -> None:
    channel_settings_write(project=project, channel="email", data=smtp_settings(2525), replace=True)
    channel_settings_write(project=project, channel="email", data={"port": 587}, replace=False)
    config = channel_settings.project_channels(project.pk)["email"]
    assert (config.get("port"), config.get("password")) == (587, PASSWORD)
    channel_settings_write(project=project, channel="email", data={"password": ""}, replace=False)
    assert channel_settings.project_channels(project.pk)["email"].get("password") == PASSWORD
    channel_settings_write(
        project=project, channel="email", data={"password": None, "username": ""}, replace=False
    )
    assert "password" not in channel_settings.project_channels(project.pk)["email"].secrets


@pytest.mark.parametrize(
    ("channel", "data", "field", "words"),
    [
        ("email", {"provider": "smtp", "from_email": "a@b.co"}, "email.host", "is required"),
        ("email", {"host": "mail.example.com", "from_email": "nope"}, "email.from_email", "email"),
        ("email", {"host": "x.co", "from_email": "a@b.co", "port": 70000}, "email.port", "65535"),
        ("email", {"host": "x.co", "from_email": "a@b.co", "colour": 1}, "email.colour", "not a"),
        ("email", {"provider": "anymail", "esp": "pidgeon"}, "email.esp", "one of"),
        (
            "sms",
            {"account_sid": "AC1", "auth_token": "t", "from_number": "+1555"},
            "sms.account_sid",
            "32",
        ),
        (
            "sms",
            {"account_sid": SID, "auth_token": "t", "from_number": "555"},
            "sms.from_number",
            "E.164",
        ),
        ("push", {"service_account": "{not json"}, "push.service_account", "not JSON"),
        ("push", {"service_account": '{"type": "user"}'}, "push.service_account", "lacks"),
        ("web_push", {"subject": "ftp://x"}, "web_push.subject", "mailto:"),
        ("webhook", {"timeout": 99}, "webhook.timeout", "between 1 and 30"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    project: Project, channel: str, data: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ChannelSettingsInvalid) as caught:
        channel_settings_write(project=project, channel=channel, data=data, replace=True)
    assert field in caught.value.errors
    assert words in caught.value.errors[field]
    assert not ChannelSetting.objects.filter(project=project).exists()


def service_account(token_uri: str = "https://oauth2.googleapis.com/token") -> dict[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "shop-app",
        "private_key_id": "0123456789abcdef7a3e",
        "private_key": pem,
        "client_email": "push@shop-app.iam.gserviceaccount.com",
        "token_uri": token_uri,
    }


def test_a_service_account_is_checked_and_shown_by_its_account_and_key(project: Project) -> None:
    info = service_account()
    channel_settings_write(
        project=project, channel="push", data={"service_account": json.dumps(info)}, replace=True
    )
    assert backend_name("push", project.pk) == "fcm"
    public = channel_settings.channel_settings_public(project)
    assert public["push"]["secrets"]["service_account"]["hint"] == (
        "push@shop-app.iam.gserviceaccount.com · key …7a3e"
    )
    assert "PRIVATE KEY" not in json.dumps(public, default=str)
    broken = {
        **info,
        "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    }
    with pytest.raises(ChannelSettingsInvalid) as caught:
        channel_settings_write(
            project=project,
            channel="push",
            data={"service_account": json.dumps(broken)},
            replace=True,
        )
    assert "cannot be used to sign" in caught.value.errors["push.service_account"]


def test_unconfigured_channels_reflect_the_projects_settings(project: Project) -> None:
    assert {c for c, _ in unconfigured_channels(project.pk)} == {"email", "sms", "push"}
    channel_settings_write(project=project, channel="email", data=smtp_settings(2525), replace=True)
    assert {c for c, _ in unconfigured_channels(project.pk)} == {"sms", "push"}
    assert {c for c, _ in unconfigured_channels()} == {"email", "sms", "push"}  # the deployment's


def test_the_operators_record_switch_wins_over_project_settings(
    project: Project, settings: Any
) -> None:
    channel_settings_write(project=project, channel="email", data=smtp_settings(2525), replace=True)
    settings.JOURNEYS_EMAIL_BACKEND = "record"
    assert get_sender("email", project.pk)[0] == "record"


def test_clearing_a_channels_settings_gives_it_back_to_the_environment(project: Project) -> None:
    channel_settings_write(project=project, channel="email", data=smtp_settings(2525), replace=True)
    assert channel_settings.channel_settings_clear(project=project, channel="email")
    assert backend_name("email", project.pk) == "record"
