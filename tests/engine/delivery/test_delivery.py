"""The outbox worker: claims, retries with backoff, final failures, the ticker's query, staff actions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from engine import delivery
from engine.channels import Result, webhook
from engine.delivery import (
    MAX_ATTEMPTS,
    backoff,
    deliver_due,
    deliver_message,
    dispatch,
    due_message_ids,
    message_cancel,
    message_claim,
    message_resend,
)
from engine.models import Message
from tests.engine.delivery.conftest import MakeMessage

HOOK = {"url": "https://hooks.example/in", "method": "POST", "headers": {}, "body": "{}"}


class FakeWebhook:
    """Webhook sends answer from ``answers`` (the HTTP path has its own tests)."""

    def __init__(self) -> None:
        self.answers: list[Result] = []
        self.calls: list[int] = []

    def __call__(
        self, rendered: dict[str, Any], *, message_id: int, idempotency_key: str
    ) -> Result:
        self.calls.append(message_id)
        return self.answers.pop(0) if self.answers else Result.sent(status_code=200)


@pytest.fixture
def fake_webhook(monkeypatch: pytest.MonkeyPatch) -> FakeWebhook:
    fake = FakeWebhook()
    monkeypatch.setitem(webhook.BACKENDS, "http", fake)
    return fake


def test_two_claims_of_one_row_give_it_to_one_worker_only(make_message: MakeMessage) -> None:
    message = make_message("webhook", HOOK)
    now = timezone.now()

    first = message_claim(message.pk, now)
    second = message_claim(message.pk, now)

    assert first is not None
    assert first.attempts == 1
    assert first.next_attempt_at == now + delivery.LEASE
    assert second is None


def test_a_row_not_yet_due_or_no_longer_queued_is_not_claimed(make_message: MakeMessage) -> None:
    later = make_message("webhook", HOOK, next_attempt_at=timezone.now() + timedelta(minutes=1))
    sent = make_message("webhook", HOOK, status=Message.Status.SENT)
    assert message_claim(later.pk) is None
    assert message_claim(sent.pk) is None


def test_a_crashed_attempt_is_taken_up_again_when_its_lease_runs_out(
    make_message: MakeMessage, fake_webhook: FakeWebhook, time_machine: Any
) -> None:
    time_machine.move_to(timezone.now(), tick=False)
    message = make_message("webhook", HOOK)
    assert message_claim(message.pk) is not None  # a worker claims it, then dies
    assert due_message_ids(timezone.now(), 10) == []

    time_machine.shift(delivery.LEASE + timedelta(seconds=1))
    assert due_message_ids(timezone.now(), 10) == [message.pk]
    after = deliver_message(message.pk)
    assert after is not None
    assert after.status == Message.Status.SENT
    assert after.attempts == 2


def test_a_worker_whose_lease_was_taken_over_does_not_overwrite_the_row(
    make_message: MakeMessage, time_machine: Any
) -> None:
    time_machine.move_to(timezone.now(), tick=False)
    message = make_message("webhook", HOOK)
    slow = message_claim(message.pk)
    assert slow is not None
    time_machine.shift(delivery.LEASE + timedelta(seconds=1))
    fast = message_claim(message.pk)
    assert fast is not None
    delivery._record(fast, Result.sent(), backend="http")

    delivery._record(slow, Result.failed("too late"), backend="http")

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.error == ""


def test_backoff_doubles_from_30_seconds_with_jitter_and_is_capped_at_an_hour() -> None:
    for attempts, base in [(1, 30), (2, 60), (3, 120), (4, 240)]:
        for _ in range(20):
            assert base * 0.8 <= backoff(attempts).total_seconds() <= base * 1.2
    assert backoff(30) == timedelta(hours=1)


def test_after_five_failed_attempts_the_message_fails_with_the_last_error(
    make_message: MakeMessage, fake_webhook: FakeWebhook, time_machine: Any
) -> None:
    time_machine.move_to(timezone.now(), tick=False)
    fake_webhook.answers.extend(Result.retry(f"HTTP 503 (try {n})") for n in range(1, 7))
    message = make_message("webhook", HOOK)

    for attempt in range(1, MAX_ATTEMPTS):
        after = deliver_message(message.pk)
        assert after is not None
        assert (after.status, after.attempts) == (Message.Status.QUEUED, attempt)
        time_machine.shift(timedelta(hours=1))

    final = deliver_message(message.pk)
    assert final is not None
    assert final.status == Message.Status.FAILED
    assert final.attempts == MAX_ATTEMPTS
    assert final.error == "gave up after 5 attempts: HTTP 503 (try 5)"
    assert final.next_attempt_at is None
    assert len(final.delivery["log"]) == MAX_ATTEMPTS
    time_machine.shift(timedelta(hours=1))
    assert deliver_message(message.pk) is None
    assert len(fake_webhook.calls) == MAX_ATTEMPTS


def test_a_backend_that_raises_is_a_retryable_failure(
    make_message: MakeMessage, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: Any, **kwargs: Any) -> Result:
        raise RuntimeError("bug")

    monkeypatch.setitem(webhook.BACKENDS, "http", explode)
    after = deliver_message(make_message("webhook", HOOK).pk)
    assert after is not None
    assert after.status == Message.Status.QUEUED
    assert after.error == "unexpected error: RuntimeError: bug"


def test_an_unknown_channel_fails(make_message: MakeMessage) -> None:
    after = deliver_message(make_message("carrier_pigeon", {}).pk)
    assert after is not None
    assert after.status == Message.Status.FAILED
    assert after.error == "unknown channel 'carrier_pigeon'"


def test_due_message_ids_lists_queued_rows_whose_time_has_come_oldest_first(
    make_message: MakeMessage,
) -> None:
    now = timezone.now()
    late = make_message("webhook", HOOK, next_attempt_at=now - timedelta(minutes=5))
    due = make_message("webhook", HOOK, next_attempt_at=now)
    make_message("webhook", HOOK, next_attempt_at=now + timedelta(seconds=1))
    make_message("webhook", HOOK, status=Message.Status.SENT, next_attempt_at=now)
    make_message("webhook", HOOK, status=Message.Status.FAILED, next_attempt_at=now)

    assert due_message_ids(now, 10) == [late.pk, due.pk]
    assert due_message_ids(now, 1) == [late.pk]


def test_dispatch_enqueues_after_commit_in_batches(
    make_message: MakeMessage,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    queued: list[list[int]] = []
    monkeypatch.setattr(delivery.deliver_messages, "delay", lambda ids: queued.append(ids))

    size = delivery.BATCH_SIZE
    ids = list(range(1, 2 * size + size // 2 + 1))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        dispatch([*ids, 3])
    assert queued == []  # nothing leaves before the transaction commits

    for callback in callbacks:
        callback()
    assert [len(batch) for batch in queued] == [size, size, size // 2]
    assert [i for batch in queued for i in batch] == ids


def test_deliver_due_sends_what_is_due_now(
    make_message: MakeMessage, fake_webhook: FakeWebhook
) -> None:
    make_message("webhook", HOOK)
    make_message("webhook", HOOK)
    make_message("webhook", HOOK, next_attempt_at=timezone.now() + timedelta(hours=1))
    assert deliver_due() == 2
    assert deliver_due() == 0


def test_staff_resend_a_failed_message_now(
    make_message: MakeMessage, monkeypatch: pytest.MonkeyPatch, fake_webhook: FakeWebhook
) -> None:
    dispatched: list[list[int]] = []
    monkeypatch.setattr(delivery, "dispatch", lambda ids: dispatched.append(list(ids)))
    fake_webhook.answers.append(Result.failed("HTTP 404"))
    message = deliver_message(make_message("webhook", HOOK).pk)
    assert message is not None
    assert message.status == Message.Status.FAILED

    assert message_resend(message, actor="support") is True

    assert message.status == Message.Status.QUEUED
    assert message.attempts == 0
    assert message.error == ""
    assert dispatched == [[message.pk]]
    assert message.delivery["log"][-1]["outcome"] == "resend"
    after = deliver_message(message.pk)
    assert after is not None
    assert after.status == Message.Status.SENT
    assert after.attempts == 1


def test_staff_resend_leaves_sent_and_queued_messages_alone(make_message: MakeMessage) -> None:
    assert message_resend(make_message("webhook", HOOK, status=Message.Status.SENT)) is False
    assert message_resend(make_message("webhook", HOOK)) is False


def test_staff_cancel_a_queued_message(
    make_message: MakeMessage, fake_webhook: FakeWebhook
) -> None:
    message = make_message("webhook", HOOK)
    assert message_cancel(message, actor="support") is True
    assert message.status == Message.Status.SKIPPED
    assert message.error == "cancelled by staff"
    assert deliver_message(message.pk) is None
    assert fake_webhook.calls == []
    assert message_cancel(message) is False


def test_a_send_already_in_flight_when_cancelled_is_recorded_as_sent(
    make_message: MakeMessage,
) -> None:
    message = make_message("webhook", HOOK)
    claimed = message_claim(message.pk)
    assert claimed is not None
    assert message_cancel(message) is True

    delivery._record(claimed, Result.sent(status_code=200), backend="http")

    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_the_tick_redispatches_only_messages_overdue_by_a_few_seconds(
    make_message: MakeMessage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New messages are dispatched when their move commits; the tick must not send them
    to the workers a second time, only lost dispatches and retries that came due."""
    from engine import ticker

    dispatched: list[int] = []
    monkeypatch.setattr(delivery, "dispatch", lambda ids: dispatched.extend(ids))
    fresh = make_message("webhook", HOOK)
    lost = make_message("webhook", HOOK, next_attempt_at=timezone.now() - timedelta(seconds=30))
    ticker._deliver_due(timezone.now())
    assert dispatched == [lost.pk]
    assert fresh.pk not in dispatched
