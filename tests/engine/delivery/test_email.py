"""The email channel against a real SMTP server (aiosmtpd) on a free local port."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from email.message import Message as EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from engine.channels import backend_name
from engine.channels import record as record_backend
from engine.delivery import deliver_message
from engine.models import Message
from tests.engine.delivery.conftest import MakeMessage


class Inbox:
    """An aiosmtpd handler keeping what arrives; ``refuse`` answers RCPT with that reply."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []
        self.refuse = ""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp(settings: Any) -> Iterator[Inbox]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_URL = f"smtp://127.0.0.1:{port}"
    settings.DEFAULT_FROM_EMAIL = "shop@example.com"
    yield inbox
    controller.stop()


RENDERED = {
    "to": "ana@example.com",
    "subject": "Your cart misses you",
    "html": "<p>Hi <b>Ana</b></p>",
    "text": "Hi Ana",
}


def parts(message: EmailMessage) -> dict[str, str]:
    found = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode()
    return found


def test_the_email_arrives_with_subject_html_and_text(
    make_message: MakeMessage, smtp: Inbox
) -> None:
    assert backend_name("email") == "smtp"
    message = make_message("email", RENDERED)

    after = deliver_message(message.pk)

    assert after is not None
    assert after.status == Message.Status.SENT
    assert after.delivery["backend"] == "smtp"
    [(recipients, received)] = smtp.received
    assert recipients == ["ana@example.com"]
    assert received["Subject"] == "Your cart misses you"
    assert received["From"] == "shop@example.com"
    assert received["To"] == "ana@example.com"
    # Stable per outbox row, so a redelivery carries the same Message-ID.
    assert received["Message-ID"] == f"<journeys-msg-{message.pk}@example.com>"
    assert after.delivery["message_id"] == received["Message-ID"]
    body = parts(received)
    assert body["text/plain"].strip() == "Hi Ana"
    assert body["text/html"].strip() == "<p>Hi <b>Ana</b></p>"


def test_no_email_address_is_skipped_with_the_reason(
    make_message: MakeMessage, smtp: Inbox
) -> None:
    message = make_message("email", {**RENDERED, "to": ""})
    after = deliver_message(message.pk)
    assert after is not None
    assert after.status == Message.Status.SKIPPED
    assert after.error == "no email address"
    assert smtp.received == []


def test_a_recipient_the_server_rejects_for_good_fails(
    make_message: MakeMessage, smtp: Inbox
) -> None:
    smtp.refuse = "550 5.1.1 No such user"
    after = deliver_message(make_message("email", RENDERED).pk)
    assert after is not None
    assert after.status == Message.Status.FAILED
    assert "550" in after.error


def test_a_recipient_the_server_defers_is_retried(make_message: MakeMessage, smtp: Inbox) -> None:
    smtp.refuse = "451 4.7.1 Greylisted, try again"
    after = deliver_message(make_message("email", RENDERED).pk)
    assert after is not None
    assert after.status == Message.Status.QUEUED
    assert "451" in after.error


def test_an_smtp_server_that_is_down_is_retried(make_message: MakeMessage, settings: Any) -> None:
    settings.EMAIL_URL = f"smtp://127.0.0.1:{free_port()}"
    after = deliver_message(make_message("email", RENDERED).pk)
    assert after is not None
    assert after.status == Message.Status.QUEUED
    assert after.attempts == 1
    assert after.error


def test_without_email_url_emails_are_recorded_not_sent(make_message: MakeMessage) -> None:
    assert backend_name("email") == "record"
    message = make_message("email", RENDERED)
    after = deliver_message(message.pk)
    assert after is not None
    assert after.status == Message.Status.RECORDED
    assert after.delivery["backend"] == "record"
    [entry] = record_backend.outbox
    assert entry["rendered"] == RENDERED
    assert entry["idempotency_key"] == f"journeys-msg-{message.pk}"
