"""Writers of ``Message.delivery`` that start from a copy read earlier (a staff resend or
cancel from the admin's list, the quiet-hours hold and skip, the frequency cap's slot and
skip, the in-app hand-over) keep what another writer stored after that read: an open, a
click or an in-app report written between the read and the write survives, next to the
writer's own change. The other writer is simulated by a second query on the row after the
function's copy was read."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connections, transaction
from django.utils import timezone

from engine import delivery, in_app, limits
from engine.delivery import message_cancel, message_resend
from engine.models import Message
from tests.engine.delivery.conftest import MakeMessage
from tests.engine.delivery.test_in_app_reports import pg_only, waiting_on_locks

pytestmark = pytest.mark.django_db

HOOK = {"url": "https://hooks.example/in", "method": "POST", "headers": {}, "body": "{}"}
SMS = {"to": "+15550100", "body": "Hi"}
OPENED_AT = "2026-12-03T22:00:01+00:00"


def report_lands(message_id: int, **facts: Any) -> None:
    """Another writer (an open, a click, an in-app report) adds its keys to the stored row."""
    row = Message.objects.get(pk=message_id)
    Message.objects.filter(pk=message_id).update(delivery={**(row.delivery or {}), **facts})


def stored(message_id: int) -> dict[str, Any]:
    return dict(Message.objects.get(pk=message_id).delivery or {})


# --- staff: resend and cancel ------------------------------------------------------------


def test_a_staff_resend_keeps_a_fact_stored_after_the_admin_read_the_message(
    make_message: MakeMessage, monkeypatch: pytest.MonkeyPatch
) -> None:
    dispatched: list[list[int]] = []
    monkeypatch.setattr(delivery, "dispatch", lambda ids: dispatched.append(list(ids)))
    earlier = {"at": "2026-12-03T21:00:00+00:00", "attempt": 1, "outcome": "failed"}
    stale = make_message(
        "webhook", HOOK, status=Message.Status.FAILED, attempts=1, delivery={"log": [earlier]}
    )
    report_lands(stale.pk, opened_at=OPENED_AT)

    assert message_resend(stale, actor="support") is True

    facts = stored(stale.pk)
    assert facts["opened_at"] == OPENED_AT
    assert [entry["outcome"] for entry in facts["log"]] == ["failed", "resend"]
    assert facts["log"][-1]["by"] == "support"
    assert stale.status == Message.Status.QUEUED
    assert stale.delivery == facts  # the object is refreshed, as before
    assert dispatched == [[stale.pk]]


def test_a_staff_cancel_keeps_a_fact_stored_after_the_admin_read_the_message(
    make_message: MakeMessage,
) -> None:
    stale = make_message("webhook", HOOK)
    report_lands(stale.pk, opened_at=OPENED_AT, log=[{"outcome": "retry", "attempt": 1}])

    assert message_cancel(stale, actor="support") is True

    facts = stored(stale.pk)
    assert facts["opened_at"] == OPENED_AT
    assert [entry["outcome"] for entry in facts["log"]] == ["retry", "cancel"]
    assert stale.status == Message.Status.SKIPPED
    assert stale.error == "cancelled by staff"


def test_resend_and_cancel_keep_their_status_guards_and_the_log_length(
    make_message: MakeMessage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery, "dispatch", lambda ids: None)
    queued = make_message("webhook", HOOK)
    sent = make_message("webhook", HOOK, status=Message.Status.SENT, delivery={"a": 1})
    assert message_resend(queued) is False
    assert message_resend(sent) is False
    assert message_cancel(sent) is False
    assert stored(sent.pk) == {"a": 1}
    assert stored(queued.pk) == {}

    log = [{"outcome": "failed", "attempt": n} for n in range(delivery.LOG_KEEP)]
    failed = make_message("webhook", HOOK, status=Message.Status.FAILED, delivery={"log": log})
    assert message_resend(failed) is True
    kept = stored(failed.pk)["log"]
    assert len(kept) == delivery.LOG_KEEP
    assert kept[0]["attempt"] == 1
    assert kept[-1]["outcome"] == "resend"


# --- limits: quiet hours and caps --------------------------------------------------------


def claimed(message: Message) -> Message:
    """The worker's copy of the message once claimed (the attempt ``gate`` checks)."""
    claim = delivery.message_claim(message.pk)
    assert claim is not None
    return claim


NIGHT = datetime(2026, 12, 3, 22, tzinfo=UTC)  # inside 21:00-08:00 UTC


def in_quiet_hours(make_message: MakeMessage, choice: str) -> Message:
    """A claimed SMS whose block ``choice``s (hold or skip) in quiet hours, NIGHT being in them."""
    message = make_message("sms", SMS, delivery={"quiet_hours": choice})
    limits.limits_set(project=message.project, quiet_hours={"start": "21:00", "end": "08:00"})
    return claimed(message)


def test_a_quiet_hours_hold_keeps_a_fact_stored_after_the_worker_read_the_message(
    make_message: MakeMessage,
) -> None:
    stale = in_quiet_hours(make_message, "hold")
    report_lands(stale.pk, opened_at=OPENED_AT)

    assert limits.gate([stale], NIGHT) == []

    facts = stored(stale.pk)
    assert facts["opened_at"] == OPENED_AT
    assert facts["quiet_hours"] == "hold"
    assert facts[limits.HELD_KEY].startswith("held for quiet hours until 2026-12-04 08:00 UTC")
    assert facts["log"][-1]["outcome"] == "held"
    row = Message.objects.get(pk=stale.pk)
    assert row.status == Message.Status.QUEUED
    assert row.attempts == 0
    assert row.next_attempt_at == datetime(2026, 12, 4, 8, tzinfo=UTC)
    assert stale.delivery == facts  # the worker's copy is what was stored


def test_a_quiet_hours_skip_keeps_a_fact_stored_after_the_worker_read_the_message(
    make_message: MakeMessage,
) -> None:
    stale = in_quiet_hours(make_message, "skip")
    report_lands(stale.pk, opened_at=OPENED_AT)

    assert limits.gate([stale], NIGHT) == []

    facts = stored(stale.pk)
    assert facts["opened_at"] == OPENED_AT
    assert facts["log"][-1]["outcome"] == "skipped"
    assert facts["log"][-1]["error"] == "skipped for quiet hours (21:00-08:00 UTC)"
    row = Message.objects.get(pk=stale.pk)
    assert row.status == Message.Status.SKIPPED
    assert row.error == "skipped for quiet hours (21:00-08:00 UTC)"
    assert stale.status == Message.Status.SKIPPED
    assert stale.delivery == facts


def test_a_cap_slot_keeps_a_fact_stored_after_the_worker_read_the_message(
    make_message: MakeMessage,
) -> None:
    message = make_message("sms", SMS)
    limits.limits_set(project=message.project, frequency_caps={"sms": {"day": 2}})
    stale = claimed(message)
    report_lands(stale.pk, opened_at=OPENED_AT)

    assert limits.gate([stale]) == [stale]

    facts = stored(stale.pk)
    assert facts["opened_at"] == OPENED_AT
    assert set(facts[limits.SLOTS_KEY]) == {"day"}
    assert stale.delivery == facts


def test_a_cap_skip_keeps_a_fact_stored_after_the_worker_read_the_message(
    make_message: MakeMessage,
) -> None:
    first = make_message("sms", SMS)
    limits.limits_set(project=first.project, frequency_caps={"sms": {"day": 1}})
    assert limits.gate([claimed(first)]) != []
    stale = claimed(make_message("sms", SMS, profile=first.profile))
    report_lands(stale.pk, opened_at=OPENED_AT)

    assert limits.gate([stale]) == []

    facts = stored(stale.pk)
    assert facts["opened_at"] == OPENED_AT
    assert facts["log"][-1]["error"] == "frequency cap: 1 SMS per day reached"
    assert limits.SLOTS_KEY not in facts
    assert Message.objects.get(pk=stale.pk).status == Message.Status.SKIPPED


def test_a_hold_of_a_message_another_worker_took_over_writes_nothing(
    make_message: MakeMessage,
) -> None:
    stale = in_quiet_hours(make_message, "hold")
    lease = timezone.now() + delivery.LEASE * 2
    Message.objects.filter(pk=stale.pk).update(next_attempt_at=lease, attempts=2)

    assert limits.gate([stale], NIGHT) == []

    row = Message.objects.get(pk=stale.pk)
    assert row.delivery == {"quiet_hours": "hold"}
    assert (row.attempts, row.next_attempt_at) == (2, lease)


# --- in-app: handing a message to a page -------------------------------------------------


def popup() -> dict[str, Any]:
    return {"title": "Hi", "body": "", "button_text": "", "button_url": "", "expires_at": None}


def test_an_in_app_hand_over_keeps_a_report_stored_after_the_messages_were_read(
    make_message: MakeMessage, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = make_message(
        "in_app",
        popup(),
        status=Message.Status.SENT,
        delivery={"backend": "store", "websocket": "awaiting_page"},
    )
    listener = in_app.Listener(message.project_id, message.profile.external_id)
    unsubscribed = in_app.consent.unsubscribed

    def meanwhile(rows: list[Message]) -> dict[int, str]:
        # Called right after the hand-over read its rows: another process's report lands.
        report_lands(message.pk, views=1, viewed_at=OPENED_AT)
        return unsubscribed(rows)

    monkeypatch.setattr(in_app.consent, "unsubscribed", meanwhile)

    shown = in_app.messages_hand_over([listener])

    assert [item["id"] for item in shown[listener]] == [message.pk]
    facts = stored(message.pk)
    assert facts["views"] == 1
    assert facts["viewed_at"] == OPENED_AT
    assert facts["delivered_at"]
    assert "websocket" not in facts
    assert facts["backend"] == "store"
    assert Message.objects.get(pk=message.pk).status == Message.Status.DELIVERED


def test_an_in_app_hand_over_only_takes_messages_still_sent(
    make_message: MakeMessage, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = make_message(
        "in_app", popup(), status=Message.Status.SENT, delivery={"websocket": "awaiting_page"}
    )
    listener = in_app.Listener(message.project_id, message.profile.external_id)
    unsubscribed = in_app.consent.unsubscribed

    def taken_elsewhere(rows: list[Message]) -> dict[int, str]:
        Message.objects.filter(pk=message.pk).update(status=Message.Status.DELIVERED)
        return unsubscribed(rows)

    monkeypatch.setattr(in_app.consent, "unsubscribed", taken_elsewhere)

    assert in_app.messages_hand_over([listener]) == {}
    assert stored(message.pk) == {"websocket": "awaiting_page"}  # the other process's


# --- the same with real concurrent writers (PostgreSQL) ----------------------------------


def writer_of(kind: str, make_message: MakeMessage) -> tuple[Message, Any, Any]:
    """A message, the write ``kind`` makes to it (from a copy read beforehand, as the admin,
    a worker or a socket has it), and the check of that write on the stored facts."""
    if kind in ("resend", "cancel"):
        status = Message.Status.FAILED if kind == "resend" else Message.Status.QUEUED
        stale = make_message("webhook", HOOK, status=status)
        staff = message_resend if kind == "resend" else message_cancel

        def check(facts: dict[str, Any]) -> None:
            assert facts["log"][-1]["outcome"] == kind

        return stale, lambda: staff(stale, actor="support"), check
    if kind == "hold":
        stale = in_quiet_hours(make_message, "hold")

        def check(facts: dict[str, Any]) -> None:
            assert facts["log"][-1]["outcome"] == "held"
            assert facts[limits.HELD_KEY]

        return stale, lambda: limits.gate([stale], NIGHT), check
    if kind == "cap":
        message = make_message("sms", SMS)
        limits.limits_set(project=message.project, frequency_caps={"sms": {"day": 2}})
        stale = claimed(message)

        def check(facts: dict[str, Any]) -> None:
            assert set(facts[limits.SLOTS_KEY]) == {"day"}

        return stale, lambda: limits.gate([stale]), check
    message = make_message(
        "in_app", popup(), status=Message.Status.SENT, delivery={"websocket": "awaiting_page"}
    )
    listener = in_app.Listener(message.project_id, message.profile.external_id)

    def check(facts: dict[str, Any]) -> None:
        assert facts["delivered_at"]
        assert "websocket" not in facts

    return message, lambda: in_app.messages_hand_over([listener]), check


@pytest.mark.django_db(transaction=True)
@pg_only
@pytest.mark.parametrize("kind", ["resend", "cancel", "hold", "cap", "hand_over"])
def test_a_report_committed_while_the_write_waits_for_the_row_is_kept(
    kind: str, make_message: MakeMessage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report's transaction holds the row while the write starts, and stores its fact
    only after the write is waiting for the row: a write that read ``delivery`` before
    taking the row would put back the facts it read, without the report's."""
    monkeypatch.setattr(delivery, "dispatch", lambda ids: None)
    message, write, check = writer_of(kind, make_message)
    locked, release = threading.Event(), threading.Event()

    def report_holding_the_row() -> None:
        try:
            with transaction.atomic():
                Message.objects.select_for_update().get(pk=message.pk)
                locked.set()
                release.wait(timeout=20)
                report_lands(message.pk, opened_at=OPENED_AT)
        finally:
            connections.close_all()

    def writer() -> None:
        try:
            write()
        finally:
            connections.close_all()

    holder = threading.Thread(target=report_holding_the_row)
    holder.start()
    assert locked.wait(timeout=10)
    writing = threading.Thread(target=writer)
    writing.start()
    deadline = time.monotonic() + 10
    while waiting_on_locks() < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert waiting_on_locks() == 1  # the write waits for the report's transaction
    release.set()
    holder.join(timeout=20)
    writing.join(timeout=20)

    facts = stored(message.pk)
    assert facts["opened_at"] == OPENED_AT
    check(facts)
