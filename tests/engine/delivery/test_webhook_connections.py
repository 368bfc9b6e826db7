"""Webhook connections: kept alive across sends and batches, replaced when the receiver
closed them, not reused after an answer too long to read; and a batch whose lease runs
short while its sends wait is renewed, each message still sent once."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from engine import delivery
from engine.channels import Result, webhook
from engine.models import Message
from tests.engine.delivery.conftest import MakeMessage


class KeepAliveServer:
    """A real HTTP/1.1 keep-alive server on 127.0.0.1 that notes which connection carried
    each request (by its Idempotency-Key). ``close_after_reply``: it then closes the
    connection without saying so (as a server whose idle timeout is short does);
    ``body``: what it answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.connections = 0
        self.received: list[tuple[int, str]] = []  # (connection number, idempotency key)
        self.close_after_reply = False
        self.body = b"ok"
        self.stall: threading.Event | None = None
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                number = self.connections
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        try:
            self._requests(conn, number)
        except OSError:
            pass  # the client closed the connection (an answer it did not read to the end)
        finally:
            conn.close()

    def _requests(self, conn: socket.socket, number: int) -> None:
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            headers = dict(line.decode().split(": ", 1) for line in head.split(b"\r\n")[1:] if line)
            length = int(headers.get("Content-Length", 0))
            while len(buffer) < length:
                buffer += conn.recv(65536)
            buffer = buffer[length:]
            with self.lock:
                self.received.append((number, headers["Idempotency-Key"]))
            head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(self.body)
            if self.stall:  # the first 600 bytes, then nothing until the client gives up
                conn.sendall(head + self.body[:600])
                self.stall.wait(10)
                return
            conn.sendall(head + self.body)
            if self.close_after_reply:
                return

    def keys(self) -> list[str]:
        return [key for _, key in self.received]


@pytest.fixture
def keep_alive_server(settings: Any) -> Iterator[KeepAliveServer]:
    settings.JOURNEYS_WEBHOOK_ALLOW_PRIVATE = True
    server = KeepAliveServer()
    yield server
    server.listener.close()


def hook(url: str) -> dict[str, Any]:
    return {"url": url, "method": "POST", "headers": {}, "body": '{"user": "u-1"}'}


def sent_once(messages: list[Message], server: KeepAliveServer) -> None:
    keys = server.keys()
    assert sorted(keys) == sorted(f"journeys-msg-{m.pk}" for m in messages)
    statuses = set(Message.objects.filter(pk__in=[m.pk for m in messages]).values_list("status"))
    assert statuses == {(Message.Status.SENT,)}


def test_sends_to_one_receiver_share_one_keep_alive_connection_across_batches(
    make_message: MakeMessage, keep_alive_server: KeepAliveServer, settings: Any
) -> None:
    settings.JOURNEYS_DELIVERY_THREADS = 1
    messages = [make_message("webhook", hook(keep_alive_server.url)) for _ in range(6)]

    delivery.deliver_messages([m.pk for m in messages[:3]])
    delivery.deliver_messages([m.pk for m in messages[3:]])

    sent_once(messages, keep_alive_server)
    assert keep_alive_server.connections == 1


@pytest.mark.parametrize("checked_before_reuse", [False, True])
def test_a_connection_the_receiver_closed_is_replaced_and_each_webhook_sent_once(
    make_message: MakeMessage,
    keep_alive_server: KeepAliveServer,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    checked_before_reuse: bool,
) -> None:
    # Checked: the idle connection is found closed before use. Not checked (it was idle
    # only briefly): the request fails on it and goes again once, on a new connection.
    if checked_before_reuse:
        monkeypatch.setattr(webhook, "CHECK_IDLE_SECONDS", 0.0)
    settings.JOURNEYS_DELIVERY_THREADS = 1
    keep_alive_server.close_after_reply = True
    messages = [make_message("webhook", hook(keep_alive_server.url)) for _ in range(4)]

    for message in messages:
        delivery.deliver_messages([message.pk])

    sent_once(messages, keep_alive_server)
    assert keep_alive_server.connections == 4
    assert Message.objects.filter(attempts=1).count() == 4


@pytest.mark.parametrize(
    ("length", "connections"),
    [
        (2_000, 1),  # the rest past the excerpt is read, the connection reused
        (webhook.RESPONSE_EXCERPT + webhook.DRAIN_LIMIT + 1, 2),  # too long: closed instead
    ],
)
def test_a_long_answer_is_cut_and_its_connection_reused_only_when_the_rest_is_short(
    make_message: MakeMessage,
    keep_alive_server: KeepAliveServer,
    settings: Any,
    length: int,
    connections: int,
) -> None:
    settings.JOURNEYS_DELIVERY_THREADS = 1
    keep_alive_server.body = b"x" * length
    messages = [make_message("webhook", hook(keep_alive_server.url)) for _ in range(2)]

    delivery.deliver_messages([m.pk for m in messages])

    sent_once(messages, keep_alive_server)
    assert keep_alive_server.connections == connections
    first = Message.objects.get(pk=messages[0].pk)
    assert first.delivery["response"] == "x" * webhook.RESPONSE_EXCERPT


def test_an_answer_whose_rest_never_comes_is_still_sent_and_its_connection_dropped(
    make_message: MakeMessage,
    keep_alive_server: KeepAliveServer,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.JOURNEYS_DELIVERY_THREADS = 1
    monkeypatch.setattr(webhook, "DRAIN_SECONDS", 0.2)
    keep_alive_server.body = b"x" * 2_000
    keep_alive_server.stall = threading.Event()
    message = make_message("webhook", hook(keep_alive_server.url))
    try:
        delivery.deliver_messages([message.pk])
    finally:
        keep_alive_server.stall.set()

    sent_once([message], keep_alive_server)
    assert webhook._idle.get(("http", "127.0.0.1", keep_alive_server.port, "127.0.0.1")) in (
        None,
        [],
    )


def test_sends_whose_lease_ran_short_while_they_waited_are_renewed_then_sent_once(
    make_message: MakeMessage,
    time_machine: Any,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    # One sending thread; the first send takes longer than the whole lease. The others,
    # handed to the threads with the batch, must not go out on an expired lease: they come
    # back to the task's thread, which renews the lease, and then they are sent.
    settings.JOURNEYS_DELIVERY_THREADS = 1
    time_machine.move_to(timezone.now(), tick=False)
    messages = [make_message("webhook", hook("https://hooks.example/in")) for _ in range(3)]
    sent: list[int] = []
    send = delivery._send

    def slow_first(message: Message, configs: Any = None) -> tuple[str, Result]:
        lease = message.next_attempt_at
        assert lease is not None
        assert timezone.now() < lease  # never sent on an expired lease
        sent.append(message.pk)
        if len(sent) == 1:
            time_machine.shift(delivery.LEASE + timedelta(seconds=1))
        return send(message, configs)

    monkeypatch.setitem(webhook.BACKENDS, "http", lambda *a, **k: Result.sent(status_code=200))
    monkeypatch.setattr(delivery, "_send", slow_first)
    renewals: list[int] = []
    renew = delivery._renew_leases

    def counted(batch: list[Message]) -> list[Message]:
        renewals.append(len(batch))
        return renew(batch)

    monkeypatch.setattr(delivery, "_renew_leases", counted)
    delivery.deliver_messages([m.pk for m in messages])

    assert sorted(sent) == sorted(m.pk for m in messages)
    assert renewals  # the later two went out on a renewed lease
    rows = Message.objects.filter(pk__in=[m.pk for m in messages])
    assert {(r.status, r.attempts) for r in rows} == {(Message.Status.SENT, 1)}
