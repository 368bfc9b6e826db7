"""A send that raises every time is retried with backoff and ends failed, not retried forever."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from engine import delivery
from engine.channels import Result, webhook
from engine.models import Message
from tests.engine.delivery.conftest import MakeMessage

HOOK = {"url": "https://hooks.example/in", "method": "POST", "headers": {}, "body": "{}"}

pytestmark = pytest.mark.django_db


def test_a_send_that_always_raises_ends_failed_after_the_bounded_attempts(
    make_message: MakeMessage, time_machine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    time_machine.move_to(timezone.now(), tick=False)
    calls: list[int] = []

    def explode(*args: Any, message_id: int, **kwargs: Any) -> Result:
        calls.append(message_id)
        raise ConnectionResetError("provider hung up")

    monkeypatch.setitem(webhook.BACKENDS, "http", explode)
    message = make_message("webhook", HOOK)
    # As the worker runs it: the ticker finds it due, a task sends it, again and again.
    for _ in range(delivery.MAX_ATTEMPTS * 3):
        due = delivery.due_message_ids(timezone.now(), 10)
        if due:
            delivery.deliver_messages(due)
        time_machine.shift(delivery.BACKOFF_CAP + timedelta(seconds=1))
    message.refresh_from_db()
    assert len(calls) == delivery.MAX_ATTEMPTS
    assert message.status == Message.Status.FAILED
    assert message.attempts == delivery.MAX_ATTEMPTS
    assert message.error.startswith(f"gave up after {delivery.MAX_ATTEMPTS} attempts")
    assert "ConnectionResetError: provider hung up" in message.error
    assert message.next_attempt_at is None
