"""The webhook channel end to end against a real local HTTP server, and its SSRF guard."""

from __future__ import annotations

import ipaddress
import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from engine.channels import ssrf, webhook
from engine.delivery import deliver_message, deliver_messages
from engine.models import Message
from tests.engine.delivery.conftest import LocalServer, MakeMessage, Reply


def hook(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "url": url,
        "method": "POST",
        "headers": {"X-Shop": "42"},
        "body": json.dumps({"user": "u-1", "item": "shoes"}),
        **extra,
    }


@pytest.fixture
def allow_private(settings: Any) -> None:
    settings.JOURNEYS_WEBHOOK_ALLOW_PRIVATE = True


@pytest.mark.usefixtures("allow_private")
def test_webhook_arrives_with_body_headers_method_and_idempotency_key(
    make_message: MakeMessage, http_server: LocalServer
) -> None:
    message = make_message("webhook", hook(f"{http_server.url}/hooks/cart?x=1", method="PUT"))

    sent = deliver_message(message.pk)

    assert sent is not None
    assert sent.status == Message.Status.SENT
    assert sent.attempts == 1
    assert sent.sent_at is not None
    assert sent.error == ""
    assert sent.delivery["status_code"] == 200
    assert sent.delivery["response"] == "ok"
    assert sent.delivery["idempotency_key"] == f"journeys-msg-{message.pk}"
    [request] = http_server.requests
    assert request.method == "PUT"
    assert request.path == "/hooks/cart?x=1"
    assert request.json() == {"user": "u-1", "item": "shoes"}
    assert request.headers["X-Shop"] == "42"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == f"journeys-msg-{message.pk}"


@pytest.mark.usefixtures("allow_private")
def test_a_body_that_is_not_json_gets_no_json_content_type(
    make_message: MakeMessage, http_server: LocalServer
) -> None:
    message = make_message("webhook", hook(http_server.url, body="plain words", headers={}))
    deliver_message(message.pk)
    [request] = http_server.requests
    assert request.body == b"plain words"
    assert "Content-Type" not in request.headers


@pytest.mark.usefixtures("allow_private")
def test_a_500_is_retried_with_backoff_then_sent_on_the_second_attempt(
    make_message: MakeMessage, http_server: LocalServer, time_machine: Any
) -> None:
    time_machine.move_to(timezone.now(), tick=False)
    http_server.reply(Reply(500, "boom"), Reply(200, "ok"))
    message = make_message("webhook", hook(http_server.url))

    first = deliver_message(message.pk)
    assert first is not None
    assert first.status == Message.Status.QUEUED
    assert first.attempts == 1
    assert first.error == "HTTP 500 from 127.0.0.1"
    assert first.next_attempt_at is not None
    wait = first.next_attempt_at - timezone.now()
    assert timedelta(seconds=24) <= wait <= timedelta(seconds=36)  # 30 s +-20 % jitter

    assert deliver_message(message.pk) is None  # not due yet: nothing is sent
    assert len(http_server.requests) == 1

    time_machine.shift(timedelta(minutes=1))
    second = deliver_message(message.pk)
    assert second is not None
    assert second.status == Message.Status.SENT
    assert second.attempts == 2
    assert second.error == ""
    assert [entry["outcome"] for entry in second.delivery["log"]] == ["retry", "sent"]
    keys = {request.headers["Idempotency-Key"] for request in http_server.requests}
    assert keys == {f"journeys-msg-{message.pk}"}  # the receiver can dedupe the two


@pytest.mark.usefixtures("allow_private")
@pytest.mark.parametrize("status", [408, 429, 502, 503])
def test_temporary_statuses_are_retried(
    make_message: MakeMessage, http_server: LocalServer, status: int
) -> None:
    http_server.reply(Reply(status, "later"))
    message = make_message("webhook", hook(http_server.url))
    after = deliver_message(message.pk)
    assert after is not None
    assert after.status == Message.Status.QUEUED
    assert after.error == f"HTTP {status} from 127.0.0.1"


@pytest.mark.usefixtures("allow_private")
def test_retry_after_from_the_receiver_is_honoured(
    make_message: MakeMessage, http_server: LocalServer
) -> None:
    http_server.reply(Reply(429, "slow down", {"Retry-After": "600"}))
    message = make_message("webhook", hook(http_server.url))
    after = deliver_message(message.pk)
    assert after is not None
    assert after.next_attempt_at is not None
    assert after.next_attempt_at - timezone.now() >= timedelta(seconds=599)


@pytest.mark.usefixtures("allow_private")
def test_a_400_fails_for_good_with_the_error_recorded(
    make_message: MakeMessage, http_server: LocalServer
) -> None:
    http_server.reply(Reply(400, '{"error": "bad field"}'))
    message = make_message("webhook", hook(http_server.url))
    after = deliver_message(message.pk)
    assert after is not None
    assert after.status == Message.Status.FAILED
    assert after.attempts == 1
    assert after.error == "HTTP 400 from 127.0.0.1"
    assert after.delivery["status_code"] == 400
    assert after.delivery["response"] == '{"error": "bad field"}'
    assert after.next_attempt_at is None


@pytest.mark.usefixtures("allow_private")
def test_redirects_are_not_followed(make_message: MakeMessage, http_server: LocalServer) -> None:
    http_server.reply(Reply(302, "", {"Location": "http://169.254.169.254/latest/meta-data"}))
    message = make_message("webhook", hook(http_server.url))
    after = deliver_message(message.pk)
    assert after is not None
    assert after.status == Message.Status.FAILED
    assert "redirect" in after.error
    assert len(http_server.requests) == 1


@pytest.mark.usefixtures("allow_private")
def test_a_refused_connection_is_retried(make_message: MakeMessage) -> None:
    closed = LocalServer()  # bound, never served, then closed: nothing listens on the port
    closed.httpd.server_close()
    message = make_message("webhook", hook(closed.url))
    after = deliver_message(message.pk)
    assert after is not None
    assert after.status == Message.Status.QUEUED
    assert "ConnectError" in after.error


@pytest.mark.usefixtures("allow_private")
def test_the_task_sends_a_message_once_however_often_it_is_run(
    make_message: MakeMessage, http_server: LocalServer
) -> None:
    message = make_message("webhook", hook(http_server.url))
    deliver_messages([message.pk, message.pk])
    deliver_messages([message.pk])
    assert len(http_server.requests) == 1
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.attempts == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost:8000/hook",
        "http://0.0.0.0/hook",
        "http://2130706433/hook",  # 127.0.0.1 as one number
    ],
)
def test_private_and_loopback_destinations_are_refused_when_not_allowed(
    make_message: MakeMessage, url: str
) -> None:
    message = make_message("webhook", hook(url))
    after = deliver_message(message.pk)
    assert after is not None
    assert after.status == Message.Status.FAILED
    assert after.error.startswith("refused: ")
    assert "JOURNEYS_WEBHOOK_ALLOW_PRIVATE" in after.error
    assert after.attempts == 1


def test_the_local_server_is_refused_until_private_addresses_are_allowed(
    make_message: MakeMessage, http_server: LocalServer, settings: Any
) -> None:
    refused = make_message("webhook", hook(http_server.url))
    assert deliver_message(refused.pk).status == Message.Status.FAILED  # type: ignore[union-attr]
    assert http_server.requests == []

    settings.JOURNEYS_WEBHOOK_ALLOW_PRIVATE = True
    allowed = make_message("webhook", hook(http_server.url))
    assert deliver_message(allowed.pk).status == Message.Status.SENT  # type: ignore[union-attr]


def test_the_connection_goes_to_the_address_that_was_checked(
    make_message: MakeMessage, http_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend hooks.example resolved to a checked public address that is in fact our
    # local server: the request must go to that address, naming the host in Host.
    monkeypatch.setattr(webhook, "resolve_public", lambda host, port: ["127.0.0.1"])
    message = make_message("webhook", hook(f"http://hooks.example:{http_server.port}/in"))
    after = deliver_message(message.pk)
    assert after is not None
    assert after.status == Message.Status.SENT
    assert after.delivery["address"] == "127.0.0.1"
    [request] = http_server.requests
    assert request.headers["Host"] == f"hooks.example:{http_server.port}"
    assert request.path == "/in"


@pytest.mark.parametrize(
    "rendered",
    [
        {"url": "ftp://example.com/x", "body": ""},
        {"url": "not a url", "body": ""},
        {"url": "https://example.com/x", "method": "TRACE", "body": ""},
    ],
)
def test_unusable_webhooks_fail_for_good(
    make_message: MakeMessage, rendered: dict[str, Any]
) -> None:
    after = deliver_message(make_message("webhook", rendered).pk)
    assert after is not None
    assert after.status == Message.Status.FAILED


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "not globally routable"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:10.0.0.1", "private (IPv4 10.0.0.1 inside ::ffff:a00:1)"),
        ("64:ff9b::7f00:1", "loopback (IPv4 127.0.0.1 inside 64:ff9b::7f00:1)"),
        ("2002:c0a8:101::1", "private (IPv4 192.168.1.1 inside 2002:c0a8:101::1)"),
        ("8.8.8.8", None),
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_why_an_address_is_blocked(address: str, reason: str | None) -> None:
    assert ssrf.why_blocked(ipaddress.ip_address(address)) == reason


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("allow_private")
def test_two_workers_racing_for_one_row_send_it_once(
    make_message: MakeMessage, http_server: LocalServer
) -> None:
    message = make_message("webhook", hook(http_server.url))
    start = threading.Barrier(4)

    def worker() -> None:
        start.wait()
        try:
            deliver_messages([message.pk])
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(http_server.requests) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Message.Status.SENT, 1)
