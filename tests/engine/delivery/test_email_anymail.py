"""Email through an ESP's API with django-anymail, against a local server standing in for
Postmark's: the message as the ESP receives it, its id kept, outages retried, refused
recipients and bad credentials failed for good."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.channels import backend_name
from engine.delivery import deliver_message
from engine.models import Message
from tests.engine.delivery.conftest import LocalServer, MakeMessage, Reply

RENDERED = {
    "to": "ana@example.com",
    "subject": "10% off",
    "html": "<p>Hi Ana</p>",
    "text": "Hi Ana",
}


def accepted(message_id: str = "pm-1") -> Reply:
    return Reply(
        200,
        {
            "To": "ana@example.com",
            "SubmittedAt": "2026-12-03T08:00:00Z",
            "MessageID": message_id,
            "ErrorCode": 0,
            "Message": "OK",
        },
        {"Content-Type": "application/json"},
    )


@pytest.fixture
def postmark(settings: Any, http_server: LocalServer) -> LocalServer:
    settings.JOURNEYS_EMAIL_ESP = "postmark"
    settings.DEFAULT_FROM_EMAIL = "shop@example.com"
    settings.ANYMAIL = {
        "POSTMARK_SERVER_TOKEN": "pm-token",
        "POSTMARK_API_URL": f"{http_server.url}/",
    }
    return http_server


def test_an_email_goes_through_the_esps_api(
    make_message: MakeMessage, postmark: LocalServer
) -> None:
    assert backend_name("email") == "anymail"
    postmark.reply(accepted("pm-42"))
    message = make_message("email", RENDERED)

    after = deliver_message(message.pk)

    assert after is not None
    assert after.status == Message.Status.SENT, after.error
    assert after.delivery["provider"] == "anymail:postmark"
    assert after.delivery["provider_id"] == "pm-42"
    [request] = postmark.requests
    assert request.path == "/email"
    assert request.headers["X-Postmark-Server-Token"] == "pm-token"
    sent = json.loads(request.body)
    assert sent["To"] == "ana@example.com"
    assert sent["From"] == "shop@example.com"
    assert sent["Subject"] == "10% off"
    assert sent["HtmlBody"] == "<p>Hi Ana</p>"
    assert sent["TextBody"] == "Hi Ana"
    headers = {h["Name"]: h["Value"] for h in sent.get("Headers", [])}
    assert headers["X-Journeys-Idempotency-Key"] == f"journeys-msg-{message.pk}"


@pytest.mark.parametrize("status", [429, 500, 503])
def test_an_esp_outage_is_retried(
    make_message: MakeMessage, postmark: LocalServer, status: int
) -> None:
    postmark.reply(Reply(status, {"ErrorCode": 100, "Message": "busy"}))
    after = deliver_message(make_message("email", RENDERED).pk)
    assert after is not None
    assert after.status == Message.Status.QUEUED
    assert after.attempts == 1


def test_bad_credentials_fail_for_good(make_message: MakeMessage, postmark: LocalServer) -> None:
    postmark.reply(Reply(401, {"ErrorCode": 10, "Message": "Bad or missing Server API token."}))
    after = deliver_message(make_message("email", RENDERED).pk)
    assert after is not None
    assert after.status == Message.Status.FAILED
    assert "postmark" in after.error


def test_a_refused_recipient_fails_for_good(
    make_message: MakeMessage, postmark: LocalServer
) -> None:
    postmark.reply(
        Reply(
            422,
            {
                "ErrorCode": 406,
                "Message": "You tried to send to recipient(s) that have been marked as "
                "inactive. Found inactive addresses: ana@example.com. Inactive recipients "
                "are ones that have generated a hard bounce, a spam complaint, or a manual "
                "suppression.",
            },
        )
    )
    after = deliver_message(make_message("email", RENDERED).pk)
    assert after is not None
    assert after.status == Message.Status.FAILED, after.delivery


def test_no_address_is_skipped_without_calling_the_esp(
    make_message: MakeMessage, postmark: LocalServer
) -> None:
    after = deliver_message(make_message("email", {**RENDERED, "to": ""}).pk)
    assert after is not None
    assert after.status == Message.Status.SKIPPED
    assert postmark.requests == []


def test_an_unknown_esp_fails_plainly(make_message: MakeMessage, settings: Any) -> None:
    settings.JOURNEYS_EMAIL_ESP = "carrierpigeon"
    after = deliver_message(make_message("email", RENDERED).pk)
    assert after is not None
    assert after.status == Message.Status.FAILED
    assert "not an anymail ESP" in after.error
