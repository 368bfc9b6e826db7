"""SMS (Twilio API) and mobile push (FCM HTTP v1) against local servers standing in for them."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs

import pytest

from engine.channels import backend_name
from engine.delivery import deliver_message
from engine.models import Message
from tests.engine.delivery.conftest import LocalServer, MakeMessage, Reply


@pytest.fixture
def twilio(settings: Any, http_server: LocalServer) -> LocalServer:
    settings.TWILIO_ACCOUNT_SID = "AC123"
    settings.TWILIO_AUTH_TOKEN = "secret"
    settings.TWILIO_FROM = "+15550000000"
    settings.TWILIO_API_URL = http_server.url
    return http_server


@pytest.fixture
def fcm(settings: Any, http_server: LocalServer) -> LocalServer:
    settings.FCM_SERVER_KEY = "fcm-key"
    settings.FCM_PROJECT_ID = "shop-app"
    settings.FCM_API_URL = http_server.url
    return http_server


SMS = {"to": "+15551234567", "body": "Your code is 42"}
PUSH = {
    "title": "Back in stock",
    "body": "Your shoes are back",
    "url": "shop://item/7",
    "tokens": [
        {"token": "tok-ios", "platform": "ios"},
        {"token": "tok-android", "platform": "android"},
    ],
}


def test_an_sms_is_posted_to_the_twilio_api(make_message: MakeMessage, twilio: LocalServer) -> None:
    assert backend_name("sms") == "twilio"
    twilio.reply(Reply(201, {"sid": "SM42", "status": "queued"}))
    message = make_message("sms", SMS)

    after = deliver_message(message.pk)

    assert after is not None
    assert after.status == Message.Status.SENT
    assert after.delivery["provider_id"] == "SM42"
    assert after.delivery["provider_status"] == "queued"
    [request] = twilio.requests
    assert request.method == "POST"
    assert request.path == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"AC123:secret").decode()
    assert parse_qs(request.body.decode()) == {
        "To": ["+15551234567"],
        "From": ["+15550000000"],
        "Body": ["Your code is 42"],
    }
    assert request.headers["Idempotency-Key"] == f"journeys-msg-{message.pk}"


def test_an_invalid_phone_number_fails_for_good(
    make_message: MakeMessage, twilio: LocalServer
) -> None:
    twilio.reply(Reply(400, {"code": 21211, "message": "Invalid 'To' Phone Number"}))
    after = deliver_message(make_message("sms", SMS).pk)
    assert after is not None
    assert after.status == Message.Status.FAILED
    assert after.error == "HTTP 400: code 21211: Invalid 'To' Phone Number"


def test_an_sms_provider_outage_is_retried(make_message: MakeMessage, twilio: LocalServer) -> None:
    twilio.reply(Reply(503, "down"))
    after = deliver_message(make_message("sms", SMS).pk)
    assert after is not None
    assert after.status == Message.Status.QUEUED


def test_no_phone_number_is_skipped(make_message: MakeMessage, twilio: LocalServer) -> None:
    after = deliver_message(make_message("sms", {**SMS, "to": ""}).pk)
    assert after is not None
    assert after.status == Message.Status.SKIPPED
    assert after.error == "no phone number"
    assert twilio.requests == []


def test_a_push_goes_to_every_device_through_fcm(
    make_message: MakeMessage, fcm: LocalServer
) -> None:
    assert backend_name("push") == "fcm"
    fcm.reply(
        Reply(200, {"name": "projects/shop-app/messages/1"}),
        Reply(200, {"name": "projects/shop-app/messages/2"}),
    )
    message = make_message("push", PUSH)

    after = deliver_message(message.pk)

    assert after is not None
    assert after.status == Message.Status.SENT
    assert after.delivery["sent_to"] == 2
    assert [d["provider_id"] for d in after.delivery["devices"]] == [
        "projects/shop-app/messages/1",
        "projects/shop-app/messages/2",
    ]
    first, second = fcm.requests
    assert first.path == "/v1/projects/shop-app/messages:send"
    assert first.headers["Authorization"] == "Bearer fcm-key"
    assert first.json() == {
        "message": {
            "token": "tok-ios",
            "notification": {"title": "Back in stock", "body": "Your shoes are back"},
            "data": {"journeys_message": f"journeys-msg-{message.pk}", "url": "shop://item/7"},
        }
    }
    assert second.json()["message"]["token"] == "tok-android"


def test_a_push_counts_as_sent_when_one_device_accepted_it(
    make_message: MakeMessage, fcm: LocalServer
) -> None:
    fcm.reply(
        Reply(404, {"error": {"status": "NOT_FOUND", "details": []}}),
        Reply(200, {"name": "projects/shop-app/messages/2"}),
    )
    after = deliver_message(make_message("push", PUSH).pk)
    assert after is not None
    assert after.status == Message.Status.SENT
    assert after.delivery["devices"][0]["error"] == "HTTP 404 NOT_FOUND"


def test_a_push_to_unregistered_devices_only_fails(
    make_message: MakeMessage, fcm: LocalServer
) -> None:
    fcm.reply(*[Reply(404, {"error": {"status": "NOT_FOUND"}})] * 2)
    after = deliver_message(make_message("push", PUSH).pk)
    assert after is not None
    assert after.status == Message.Status.FAILED


def test_a_push_during_an_fcm_outage_is_retried(
    make_message: MakeMessage, fcm: LocalServer
) -> None:
    fcm.reply(*[Reply(503, {"error": {"status": "UNAVAILABLE"}})] * 2)
    after = deliver_message(make_message("push", PUSH).pk)
    assert after is not None
    assert after.status == Message.Status.QUEUED
    assert "UNAVAILABLE" in after.error


def test_a_push_with_no_device_is_skipped(make_message: MakeMessage, fcm: LocalServer) -> None:
    after = deliver_message(make_message("push", {**PUSH, "tokens": []}).pk)
    assert after is not None
    assert after.status == Message.Status.SKIPPED
    assert after.error == "no push token"
    assert fcm.requests == []
