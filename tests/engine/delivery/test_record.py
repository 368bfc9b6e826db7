"""Local/dev backends record what would have been sent; backends are picked by settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from engine.channels import backend_name
from engine.channels import record as record_backend
from engine.delivery import deliver_message
from engine.models import Message
from tests.engine.delivery.conftest import MakeMessage

RENDERED = {
    "push": {"title": "T", "body": "B", "url": "", "tokens": [{"token": "t1", "platform": "ios"}]},
    "web_push": {
        "title": "T",
        "body": "B",
        "url": "/",
        "tokens": [
            {
                "token": "https://push.example.com/w1",
                "platform": "web",
                "keys": {"p256dh": "BP", "auth": "au"},
            }
        ],
    },
    "email": {"to": "ana@example.com", "subject": "S", "html": "<p>H</p>", "text": "H"},
    "sms": {"to": "+15551234567", "body": "B"},
    "webhook": {"url": "https://example.com/hook", "method": "POST", "headers": {}, "body": "{}"},
}


def test_defaults_record_every_channel_without_a_provider() -> None:
    # Web push needs no operator setting (VAPID keys are made per project), nor do
    # in-app (the SDK's websocket) and webhooks.
    assert {
        c: backend_name(c) for c in ["push", "web_push", "email", "sms", "in_app", "webhook"]
    } == {
        "push": "record",
        "web_push": "webpush",
        "email": "record",
        "sms": "record",
        "in_app": "store",
        "webhook": "http",
    }


def test_an_unknown_backend_name_fails_loudly(settings: Any) -> None:
    settings.JOURNEYS_SMS_BACKEND = "carrier-pigeon"
    with pytest.raises(ImproperlyConfigured, match="JOURNEYS_SMS_BACKEND"):
        backend_name("sms")


@pytest.mark.parametrize("channel", sorted(RENDERED))
def test_record_backends_store_what_would_have_been_sent(
    make_message: MakeMessage, settings: Any, channel: str
) -> None:
    setattr(settings, f"JOURNEYS_{channel.upper()}_BACKEND", "record")
    message = make_message(channel, RENDERED[channel])

    after = deliver_message(message.pk)

    assert after is not None
    assert after.status == Message.Status.RECORDED  # kept, not sent: no provider
    assert after.sent_at is None
    assert after.delivery["backend"] == "record"
    assert after.delivery["recorded"] is True
    [entry] = record_backend.outbox
    assert entry["channel"] == channel
    assert entry["message_id"] == message.pk
    assert entry["rendered"] == RENDERED[channel]
    lines = Path(settings.JOURNEYS_RECORD_DIR, f"{channel}.jsonl").read_text().splitlines()
    assert [json.loads(line)["message_id"] for line in lines] == [message.pk]


def test_in_app_messages_are_stored_for_the_web_sdk(make_message: MakeMessage) -> None:
    rendered = {
        "title": "Hi",
        "body": "Welcome",
        "button_text": "Shop",
        "button_url": "/shop",
        "expires_at": "2030-01-01T00:00:00+00:00",
    }
    after = deliver_message(make_message("in_app", rendered).pk)
    assert after is not None
    assert after.status == Message.Status.SENT
    assert after.rendered == rendered
    assert after.delivery["stored"] is True
    assert after.delivery["websocket"] == "awaiting_page"
    assert after.delivery["expires_at"] == "2030-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("channel", "rendered", "reason"),
    [
        ("push", {"title": "T", "body": "B", "tokens": []}, "no push token"),
        ("web_push", {"title": "T", "body": "B", "tokens": []}, "no web push subscription"),
        ("email", {"to": "", "subject": "S", "html": "", "text": ""}, "no email address"),
        ("sms", {"to": "", "body": "B"}, "no phone number"),
    ],
)
def test_record_backends_skip_when_there_is_no_address(
    make_message: MakeMessage, channel: str, rendered: dict[str, Any], reason: str
) -> None:
    after = deliver_message(make_message(channel, rendered).pk)
    assert after is not None
    assert after.status == Message.Status.SKIPPED
    assert after.error == reason
    assert not record_backend.outbox
