"""Email over SMTP reuses pooled connections (one login for many emails) and survives a
pooled connection the server closed meanwhile: against a real aiosmtpd server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from engine.channels import smtp_pool
from engine.delivery import deliver_message, deliver_messages
from engine.models import Message
from tests.engine.delivery.conftest import MakeMessage
from tests.engine.delivery.test_email import RENDERED, Inbox, free_port


class Peers(Inbox):
    """Keeps, with each email, the client's address: one port per connection."""

    def __init__(self) -> None:
        super().__init__()
        self.peers: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.peers.append(session.peer)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def server(settings: Any) -> Iterator[tuple[Peers, Controller]]:
    smtp_pool.close_all()
    inbox = Peers()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_URL = f"smtp://127.0.0.1:{controller.port}"
    settings.DEFAULT_FROM_EMAIL = "shop@example.com"
    yield inbox, controller
    if controller._thread is not None:  # still running (the reconnect test stops it itself)
        controller.stop()
    smtp_pool.close_all()


def test_a_batch_of_emails_shares_a_few_connections(
    make_message: MakeMessage, server: tuple[Peers, Controller], settings: Any
) -> None:
    inbox, _ = server
    settings.JOURNEYS_DELIVERY_THREADS = 2
    ids = [make_message("email", RENDERED).pk for _ in range(12)]
    deliver_messages(ids)
    sent = list(Message.objects.filter(pk__in=ids, status=Message.Status.SENT))
    assert len(sent) == 12
    for message in sent:  # recorded together, each with its own facts
        assert message.sent_at is not None
        assert message.next_attempt_at is None
        assert message.delivery["idempotency_key"] == f"journeys-msg-{message.pk}"
        assert message.delivery["log"][-1]["outcome"] == "sent"
    assert len(inbox.received) == 12
    assert len(set(inbox.peers)) <= 2  # one connection per sending thread, not per email


def test_a_pooled_connection_the_server_closed_is_replaced_and_the_email_goes(
    make_message: MakeMessage, server: tuple[Peers, Controller]
) -> None:
    inbox, controller = server
    first = deliver_message(make_message("email", RENDERED).pk)
    assert first is not None
    assert first.status == Message.Status.SENT
    controller.stop()  # drops the pooled connection
    again = Controller(inbox, hostname="127.0.0.1", port=controller.port)  # same port, new server
    again.start()
    try:
        second = deliver_message(make_message("email", RENDERED).pk)
    finally:
        again.stop()
    assert second is not None
    assert second.status == Message.Status.SENT, second.error
    assert len(inbox.received) == 2
    assert len(set(inbox.peers)) == 2
