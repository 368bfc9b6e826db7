"""Delivery under faults: short leases renewed while a batch is sent, claims given back
when an attempt breaks outside the send, and no endless retries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.utils import timezone

from engine import delivery
from engine.channels import Result, webhook
from engine.models import Message
from tests.engine.delivery.conftest import MakeMessage

HOOK = {"url": "https://hooks.example/in", "method": "POST", "headers": {}, "body": "{}"}


class SlowWebhook:
    """Each send takes ``seconds`` of (moved) time."""

    def __init__(self, time_machine: Any, seconds: float) -> None:
        self.time_machine = time_machine
        self.seconds = seconds
        self.calls: list[int] = []

    def __call__(
        self, rendered: dict[str, Any], *, message_id: int, idempotency_key: str
    ) -> Result:
        self.calls.append(message_id)
        self.time_machine.shift(timedelta(seconds=self.seconds))
        return Result.sent(status_code=200)


def test_a_dead_workers_messages_are_taken_up_within_half_a_minute(
    make_message: MakeMessage, time_machine: Any
) -> None:
    time_machine.move_to(timezone.now(), tick=False)
    message = make_message("webhook", HOOK)
    assert delivery.message_claim_many([message.pk])  # a worker claims it and is killed
    time_machine.shift(delivery.LEASE + timedelta(seconds=1))
    assert delivery.due_message_ids(timezone.now(), 10) == [message.pk]
    assert timedelta(seconds=30) >= delivery.LEASE


def test_a_batch_longer_than_its_lease_renews_it_and_sends_every_message(
    make_message: MakeMessage, time_machine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    time_machine.move_to(timezone.now(), tick=False)
    slow = SlowWebhook(time_machine, seconds=9)
    monkeypatch.setitem(webhook.BACKENDS, "http", slow)
    messages = [make_message("webhook", HOOK) for _ in range(8)]  # 72 s of sending

    delivery.deliver_messages([m.pk for m in messages])

    assert sorted(slow.calls) == sorted(m.pk for m in messages)
    statuses = set(Message.objects.filter(pk__in=slow.calls).values_list("status", flat=True))
    assert statuses == {Message.Status.SENT}
    # Never due for another worker while this one was still sending the batch.
    assert Message.objects.filter(attempts=1).count() == 8


def test_messages_another_worker_took_over_are_dropped_from_the_batch(
    make_message: MakeMessage,
    time_machine: Any,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    settings.JOURNEYS_DELIVERY_THREADS = 1
    time_machine.move_to(timezone.now(), tick=False)
    first, second = make_message("webhook", HOOK), make_message("webhook", HOOK)
    sent: list[int] = []

    def stalls_past_the_lease(
        rendered: dict[str, Any], *, message_id: int, idempotency_key: str
    ) -> Result:
        sent.append(message_id)
        time_machine.shift(delivery.LEASE + timedelta(seconds=1))
        return Result.sent(status_code=200)

    renew = delivery._renew_leases

    def another_worker_claims_first(messages: list[Message]) -> list[Message]:
        assert delivery.message_claim(second.pk) is not None  # its lease had run out
        return renew(messages)

    monkeypatch.setitem(webhook.BACKENDS, "http", stalls_past_the_lease)
    monkeypatch.setattr(delivery, "_renew_leases", another_worker_claims_first)
    delivery.deliver_messages([first.pk, second.pk])
    assert sent == [first.pk]


def test_an_attempt_that_breaks_while_recording_is_given_back_for_a_retry_soon(
    make_message: MakeMessage, time_machine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    time_machine.move_to(timezone.now(), tick=False)
    broken, fine = make_message("webhook", HOOK), make_message("webhook", HOOK)
    monkeypatch.setitem(webhook.BACKENDS, "http", lambda *a, **k: Result.sent(status_code=200))
    record = delivery._record

    def database_gone_once(message: Message, result: Result, **kwargs: Any) -> Message:
        if message.pk == broken.pk:
            raise OperationalError("server closed the connection unexpectedly")
        return record(message, result, **kwargs)

    monkeypatch.setattr(delivery, "_record", database_gone_once)
    record_sent = delivery._record_sent

    def database_gone_in_the_batch(finished: list[Any]) -> None:
        if any(message.pk == broken.pk for message, _, _ in finished):
            raise OperationalError("server closed the connection unexpectedly")
        record_sent(finished)

    # The batch's outcomes are written together first, then one by one when that fails.
    monkeypatch.setattr(delivery, "_record_sent", database_gone_in_the_batch)
    delivery.deliver_messages([broken.pk, fine.pk])

    broken.refresh_from_db()
    fine.refresh_from_db()
    assert fine.status == Message.Status.SENT
    assert broken.status == Message.Status.QUEUED
    assert broken.next_attempt_at == timezone.now() + delivery.RELEASE_DELAY
    time_machine.shift(delivery.RELEASE_DELAY)
    assert broken.pk in delivery.due_message_ids(timezone.now(), 10)


def test_an_attempt_that_keeps_breaking_ends_failed_after_the_bounded_attempts(
    make_message: MakeMessage, time_machine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    time_machine.move_to(timezone.now(), tick=False)
    message = make_message("webhook", HOOK)
    monkeypatch.setitem(webhook.BACKENDS, "http", lambda *a, **k: Result.sent(status_code=200))

    def always_broken(*args: Any, **kwargs: Any) -> Message:
        raise RuntimeError("a bug")

    monkeypatch.setattr(delivery, "_record", always_broken)
    monkeypatch.setattr(delivery, "_record_sent", always_broken)
    for _ in range(delivery.MAX_ATTEMPTS):
        delivery.deliver_messages([message.pk])
        time_machine.shift(delivery.RELEASE_DELAY)
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.error.startswith(f"gave up after {delivery.MAX_ATTEMPTS} attempts: RuntimeError")
    assert delivery.due_message_ids(timezone.now() + timedelta(days=1), 10) == []
