"""Message delivery: sends queued outbox rows through their channel, retries, records the outcome.

The engine writes a ``Message`` (status queued, next_attempt_at = now) in the same
transaction that moves the user, then calls ``dispatch``. A worker CLAIMS a row with
a compare-and-swap UPDATE that pushes ``next_attempt_at`` one lease ahead, so two
workers (or a dispatch and a ticker pass) never send it at once; it sends with no
transaction open and records what happened. A crash mid-send leaves the row queued
with an expired lease, and the ticker (``due_message_ids``) dispatches it again:
delivery is at least once, and every send carries ``idempotency_key(message.id)``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from queue import Empty, SimpleQueue
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from engine import consent
from engine.channel_settings import ProjectChannels, project_channels_many
from engine.channels import Outcome, Result, get_sender, idempotency_key
from engine.limits import delivery_write, gate, slots_release, slots_return
from engine.models import Message
from engine.sql import dialect

logger = logging.getLogger(__name__)

# A dead worker's claimed messages are sent again once their lease runs out; a live one
# renews the lease of its batch every LEASE / 2, so one send (<= 10 s) never outlives it.
LEASE = timedelta(seconds=20)
RELEASE_DELAY = timedelta(seconds=2)
MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
# Message ids per task: a batch's claim and its last sends leave the sending threads idle a
# moment, so fewer, larger batches send more per second (bench/delivery.py: 100 -> 250
# gave about 1.6x); a dispatch of 1,000 still spreads over 4 tasks.
BATCH_SIZE = 250
LOG_KEEP = 10  # attempts kept in delivery["log"]
RECORD_BATCH = 50  # outcomes written per transaction
RECORD_EVERY = 0.2  # seconds an outcome may wait to be written with others

Status = Message.Status


# --- Scheduling --------------------------------------------------------------------


def dispatch(message_ids: Iterable[int]) -> None:
    """Queue delivery of these messages once the current transaction commits."""
    ids = list(dict.fromkeys(int(i) for i in message_ids))
    for start in range(0, len(ids), BATCH_SIZE):
        deliver_messages.delay_on_commit(ids[start : start + BATCH_SIZE])


def due_message_ids(now: datetime, limit: int) -> list[int]:
    """Queued messages whose next attempt has come (retries, lost dispatches, expired leases)."""
    # Uses the partial index message_due (status = queued, next_attempt_at).
    return list(
        Message.objects.filter(status=Status.QUEUED, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )


def deliver_due(now: datetime | None = None, limit: int = 1000) -> int:
    """Deliver what is due now, synchronously (``run_due_work``); how many were sent."""
    sent = 0
    for message_id in due_message_ids(now or timezone.now(), limit):
        message = deliver_message(message_id)
        sent += message is not None and message.status == Status.SENT
    return sent


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` failed ones: 30 s x 2^(n-1), +-20 %, <= 1 h."""
    base = BACKOFF_BASE.total_seconds() * 2 ** max(0, attempts - 1)
    jittered = base * random.uniform(0.8, 1.2)  # jitter spreads retries apart
    return timedelta(seconds=min(jittered, BACKOFF_CAP.total_seconds()))


# --- The task ----------------------------------------------------------------------


@shared_task(  # type: ignore[untyped-decorator]
    name="engine.deliver_messages",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def deliver_messages(message_ids: list[int]) -> None:
    """Deliver each message that is due. A repeated or stale task sends nothing twice.

    Sends wait on networks, so up to ``JOURNEYS_DELIVERY_THREADS`` of a batch are in flight
    at once (threads that only send; every database write stays on this thread). The
    batch's lease is short (a dead worker's messages are taken up again within ``LEASE``)
    and renewed while the batch is being sent; a message whose outcome could not be
    recorded (the database went away, a bug) is released for a retry soon, or failed after
    ``MAX_ATTEMPTS``.
    """
    queue = _consented(message_claim_many(message_ids))
    queue = gate(queue)  # quiet hours and frequency caps
    if not queue:
        return
    # Each project's own channel settings, read once here (the sending threads read nothing).
    configs = project_channels_many(m.project_id for m in queue)
    threads = max(1, int(settings.JOURNEYS_DELIVERY_THREADS))
    pool = _sending_pool(threads)  # threads start as sends need them
    # The whole batch is handed to the threads at once, so they never wait for this thread
    # (claiming, renewing, recording); each send puts its outcome here.
    outcomes: SimpleQueue[tuple[Message, str | None, Result | None]] = SimpleQueue()
    turn = _Turn()
    in_flight: dict[int, Message] = {}
    # Outcomes are written a few at a time (RECORD_BATCH, or every RECORD_EVERY seconds).
    finished: list[tuple[Message, str, Result]] = []
    written_at = time.monotonic()
    try:
        while queue or in_flight:
            unsent = queue + list(in_flight.values())
            lease = unsent[0].next_attempt_at
            if lease is not None and timezone.now() >= lease - LEASE / 2:
                kept = {m.pk for m in _renew_leases(unsent)}
                queue = [m for m in queue if m.pk in kept]
                turn.dropped.update(pk for pk in in_flight if pk not in kept)
            for message in queue:
                in_flight[message.pk] = message
                config = configs.get(message.project_id, {})
                pool.submit(_send_into, outcomes, turn, message, config)
            queue = []
            if not in_flight:
                break
            timeout = RECORD_EVERY if finished else LEASE.total_seconds() / 4
            try:
                done = [outcomes.get(timeout=timeout)]
                while not outcomes.empty():
                    done.append(outcomes.get_nowait())
            except Empty:
                done = []
            for message, backend, result in done:
                del in_flight[message.pk]
                if result is None:  # not sent: its lease ran short, or another worker has it
                    if message.pk not in turn.dropped:
                        queue.append(message)  # renewed on the next turn, then sent
                else:
                    finished.append((message, backend or "", result))
            if len(finished) >= RECORD_BATCH or time.monotonic() - written_at >= RECORD_EVERY:
                _record_many(finished)
                finished, written_at = [], time.monotonic()
    finally:
        # Whatever stopped the loop, the sends already under way are recorded (or released);
        # the ones not yet begun are not begun.
        turn.stopping = True
        while in_flight:
            message, backend, result = outcomes.get()
            del in_flight[message.pk]
            if result is not None:
                finished.append((message, backend or "", result))
        _record_many(finished)


class _Turn:
    """What the task's thread tells the sending threads of its batch."""

    def __init__(self) -> None:
        self.dropped: set[int] = set()  # ids another worker took over: not to be sent
        self.stopping = False  # the task is ending: begin no more sends


# The sending threads, kept for the process's life (a batch reuses them, and the keep-alive
# connections of the channels' clients stay warm); a forked child starts its own.
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def _sending_pool(threads: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size != threads:  # the setting changed (tests do)
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="deliver")
            _pool_size = threads
        return _pool


def _forget_pool() -> None:
    global _pool, _pool_size, _pool_lock
    _pool, _pool_size, _pool_lock = None, 0, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def _send_into(
    outcomes: SimpleQueue[tuple[Message, str | None, Result | None]],
    turn: _Turn,
    message: Message,
    configs: ProjectChannels,
) -> None:
    """Send on a pool thread and hand the outcome back (always: the batch waits for it).
    A message whose lease is about to run out (this task's thread did not renew it: time
    jumped, the database stalled) is handed back unsent, as is one another worker took."""
    lease = message.next_attempt_at
    if (
        turn.stopping
        or message.pk in turn.dropped
        or (lease is not None and timezone.now() >= lease - LEASE / 4)
    ):
        outcomes.put((message, None, None))
        return
    try:
        backend, result = _send(message, configs)
    except BaseException as exc:  # _send does not raise; this is the belt to its braces
        backend, result = "", Result.retry(f"unexpected error: {type(exc).__name__}: {exc}")
    outcomes.put((message, backend, result))


def _record_many(finished: list[tuple[Message, str, Result]]) -> None:
    """Write these outcomes in one transaction (one commit, not one per message: commits
    are what limits a worker's rate); if that fails, one by one, so a row that cannot be
    written does not hold back the others."""
    if not finished:
        return
    try:
        with transaction.atomic():
            _record_sent([f for f in finished if f[2].outcome is Outcome.SENT])
            for message, backend, result in finished:
                if result.outcome is not Outcome.SENT:
                    _record(message, result, backend=backend, refresh=False)
        return
    except Exception:
        _drop_broken_connection()
        logger.exception("recording %s outcomes at once failed; one by one", len(finished))
    for message, backend, result in finished:
        try:
            _record(message, result, backend=backend, refresh=False)
        except Exception as exc:
            logger.exception("recording message %s failed unexpectedly", message.pk)
            _release(message, exc)


def _renew_leases(messages: list[Message]) -> list[Message]:
    """Push the lease of the batch's unsent messages ahead; those another worker took
    (after an expiry) are dropped from the batch."""
    try:
        lease = timezone.now() + LEASE + timedelta(microseconds=random.randint(0, 999_999))
        by_id = {m.pk: m for m in messages}
        Message.objects.filter(
            pk__in=list(by_id), status=Status.QUEUED, next_attempt_at=messages[0].next_attempt_at
        ).update(next_attempt_at=lease)
        kept = set(
            Message.objects.filter(pk__in=list(by_id), next_attempt_at=lease).values_list(
                "pk", flat=True
            )
        )
    except DatabaseError:
        _drop_broken_connection()
        logger.exception("could not renew the lease of %s messages", len(messages))
        return []  # the lease runs out and the ticker dispatches them again
    for message in messages:
        message.next_attempt_at = lease
    return [m for m in messages if m.pk in kept]


def _drop_broken_connection() -> None:
    """A connection the database dropped (a restart) is closed, so the next query of this
    task opens a fresh one instead of failing on the dead one."""
    if connection.in_atomic_block or connection.connection is None:
        return
    if not connection.is_usable():
        connection.close()


def _release(message: Message, exc: BaseException) -> None:
    """Give back a message whose attempt broke outside the send (its outcome unknown to
    us): retried shortly with the same idempotency key, or failed after MAX_ATTEMPTS."""
    _drop_broken_connection()
    now = timezone.now()
    if message.attempts >= MAX_ATTEMPTS:
        fields: dict[str, Any] = {
            "status": Status.FAILED,
            "error": f"gave up after {message.attempts} attempts: {type(exc).__name__}: {exc}"[
                :500
            ],
            "next_attempt_at": None,
        }
    else:
        fields = {"next_attempt_at": now + RELEASE_DELAY}
    try:
        Message.objects.filter(
            pk=message.pk,
            status=Status.QUEUED,
            attempts=message.attempts,
            next_attempt_at=message.next_attempt_at,
        ).update(**fields)
    except DatabaseError:
        _drop_broken_connection()
        logger.warning("message %s keeps its lease until it expires", message.pk)


def message_claim_many(message_ids: Iterable[int], now: datetime | None = None) -> list[Message]:
    """Take every due row of these for one attempt, in two queries: rows another worker
    holds (or that are not due) are left alone. The lease time marks this claim's rows."""
    now = now or timezone.now()
    ids = list(message_ids)
    lease = now + LEASE + timedelta(microseconds=random.randint(0, 999_999))
    claimed = Message.objects.filter(
        pk__in=ids, status=Status.QUEUED, next_attempt_at__lte=now
    ).update(next_attempt_at=lease, attempts=F("attempts") + 1)
    if not claimed:
        return []
    return list(
        Message.objects.filter(pk__in=ids, status=Status.QUEUED, next_attempt_at=lease).order_by(
            "pk"
        )
    )


def message_claim(message_id: int, now: datetime | None = None) -> Message | None:
    """Take the row for one attempt, or None if it is not due or another worker has it."""
    now = now or timezone.now()
    claimed = Message.objects.filter(
        pk=message_id, status=Status.QUEUED, next_attempt_at__lte=now
    ).update(next_attempt_at=now + LEASE, attempts=F("attempts") + 1)
    if claimed != 1:
        return None
    return Message.objects.get(pk=message_id)


def deliver_message(message_id: int) -> Message | None:
    """Claim, send and record one message; the updated row, or None if not claimed."""
    message = message_claim(message_id)
    if message is None:
        return None
    if not _consented([message]):
        message.refresh_from_db()
        return message
    if not gate([message]):  # quiet hours and frequency caps
        message.refresh_from_db()
        return message
    return _deliver(message, refresh=True)


def _consented(messages: list[Message]) -> list[Message]:
    """The messages to send; those whose profile unsubscribed from their channel are
    skipped with the reason (checked when sending: a message queued before the unsubscribe
    is skipped too)."""
    refused = consent.unsubscribed(messages)
    for message in messages:
        if message.pk in refused:
            _record(message, Result.skipped(refused[message.pk]), backend="consent", refresh=False)
    return [m for m in messages if m.pk not in refused]


def _deliver(message: Message, *, refresh: bool) -> Message:
    """Send a claimed message and record the outcome."""
    backend, result = _send(message)
    return _record(message, result, backend=backend, refresh=refresh)


def _send(message: Message, configs: ProjectChannels | None = None) -> tuple[str, Result]:
    """Hand a claimed message to its channel's backend (the project's own settings, else the
    environment's); never raises, and touches no database when ``configs`` are given."""
    key = idempotency_key(message.pk)
    try:
        backend, send = get_sender(
            message.channel, configs if configs is not None else message.project_id
        )
    except KeyError:
        return "", Result.failed(f"unknown channel {message.channel!r}")
    try:
        result = send(dict(message.rendered or {}), message_id=message.pk, idempotency_key=key)
    except Exception as exc:
        logger.exception(
            "%s backend %s raised for message %s", message.channel, backend, message.pk
        )
        result = Result.retry(f"unexpected error: {type(exc).__name__}: {exc}")
    return backend, result


def _delivery_after(
    message: Message, result: Result, backend: str, now: datetime
) -> dict[str, Any]:
    """The row's ``delivery`` facts once this attempt's outcome is added (and logged)."""
    return {**(message.delivery or {}), **_outcome_facts(message, result, backend, now)}


def _outcome_facts(message: Message, result: Result, backend: str, now: datetime) -> dict[str, Any]:
    """What this attempt's outcome sets in ``delivery``: the provider's facts, the backend,
    the idempotency key and the log with this attempt added. Merged into the row as it is
    stored when the outcome is written (an open, a click or an in-app report may have
    landed during the send), never written over it. A fact the provider left empty (None)
    is left out: SQLite's merge would delete the key, PostgreSQL's would store a null."""
    entry: dict[str, Any] = {
        "at": now.isoformat(),
        "attempt": message.attempts,
        "outcome": result.outcome.value,
    }
    if result.error:
        entry["error"] = result.error[:500]
    facts = {key: value for key, value in result.delivery.items() if value is not None}
    facts["backend"] = backend
    facts["idempotency_key"] = idempotency_key(message.pk)
    facts["log"] = [*(message.delivery or {}).get("log", []), entry][-LOG_KEEP:]
    return facts


# Engagement that arrived before the outcome is written stays: a ``sent`` outcome never
# moves a message back from delivered, opened or clicked, and an open or click recorded
# while the row was still queued (a link scanner or Apple Mail Privacy Protection fetches
# within milliseconds of the provider's accept; engine/tracking.py then only counts it)
# moves it on to opened or clicked. ``viewed_at``: an in-app report (engine/in_app.py).
_ENGAGED = (Status.DELIVERED, Status.OPENED, Status.CLICKED)
_STATUS_WHEN_SENT = (
    f"CASE WHEN status = '{Status.CLICKED.value}' OR delivery ->> 'clicked_at' IS NOT NULL "
    f"THEN '{Status.CLICKED.value}' "
    f"WHEN status = '{Status.OPENED.value}' OR delivery ->> 'opened_at' IS NOT NULL "
    f"OR delivery ->> 'viewed_at' IS NOT NULL THEN '{Status.OPENED.value}' "
    f"WHEN status = '{Status.DELIVERED.value}' THEN '{Status.DELIVERED.value}' "
    f"ELSE '{Status.SENT.value}' END"
)


def _status_when_sent(status: str, delivery: dict[str, Any]) -> str:
    """``_STATUS_WHEN_SENT`` on a row read in Python."""
    if status == Status.CLICKED or delivery.get("clicked_at") is not None:
        return Status.CLICKED
    if (
        status == Status.OPENED
        or delivery.get("opened_at") is not None
        or delivery.get("viewed_at") is not None
    ):
        return Status.OPENED
    return Status.DELIVERED if status == Status.DELIVERED else Status.SENT


def _record_sent(finished: list[tuple[Message, str, Result]]) -> None:
    """Record sends that went out, in one UPDATE per (attempt, lease) group (a batch has one
    or two), each row's own facts merged into its stored ``delivery`` (json_merge, on the
    row as the UPDATE takes it) and its status moved only forward: as ``_record`` does,
    row by row."""
    now = timezone.now()
    groups: dict[tuple[int, datetime | None], list[tuple[Message, dict[str, Any]]]] = {}
    for message, backend, result in finished:
        key = (message.attempts, message.next_attempt_at)
        groups.setdefault(key, []).append((message, _outcome_facts(message, result, backend, now)))
    table = Message._meta.db_table
    sql_dialect = dialect()
    json_value = sql_dialect.param("jsonb")
    adapt = connection.ops.adapt_datetimefield_value
    for (attempts, lease), rows in groups.items():
        # One statement, written by hand: the ORM's CASE of 50 WHENs cost more CPU than the
        # sends it records. Each row gets its own facts (CASE id WHEN ...); only our table name
        # and placeholders are formatted in, every value is a parameter.
        ids = [m.pk for m, _ in rows]
        cases = " ".join(f"WHEN %s THEN {json_value}" for _ in rows)
        marks = ", ".join("%s" for _ in ids)
        same_lease = "next_attempt_at IS NULL" if lease is None else "next_attempt_at = %s"
        facts = sql_dialect.json_merge("delivery", f"CASE id {cases} END")
        sql = (
            f"UPDATE {table} SET status = {_STATUS_WHEN_SENT}, sent_at = %s, error = '', "
            f"next_attempt_at = NULL, delivery = {facts} "
            f"WHERE id IN ({marks}) AND attempts = %s AND {same_lease} AND status <> %s"
        )
        params: list[Any] = [adapt(now)]
        for message, delivery in rows:
            params += [message.pk, json.dumps(delivery)]
        params += [*ids, attempts, *([] if lease is None else [adapt(lease)]), Status.SENT.value]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            updated = cursor.rowcount
        if updated != len(ids):
            logger.warning(
                "%s of messages %s changed during their attempt; sent not recorded",
                len(ids) - updated,
                ids,
            )


def _record(message: Message, result: Result, *, backend: str, refresh: bool = True) -> Message:
    """Write one attempt's outcome: its facts merged into the row as it is stored (read under
    a row lock, so an open, a click or an in-app report landing meanwhile is kept, and its
    status too: see ``_STATUS_WHEN_SENT``)."""
    now = timezone.now()
    attempts = message.attempts
    # Ending failed or skipped, it never reached the person: its cap slots go back.
    ends_unsent = result.outcome in (Outcome.SKIPPED, Outcome.FAILED) or (
        result.outcome is Outcome.RETRY and attempts >= MAX_ATTEMPTS
    )
    fields: dict[str, Any] = {}
    if result.outcome is Outcome.SENT:
        fields.update(sent_at=now, error="", next_attempt_at=None)
    elif result.outcome is Outcome.RECORDED:  # no provider: kept, not sent (sent_at stays empty)
        fields.update(status=Status.RECORDED, error="", next_attempt_at=None)
    elif result.outcome is Outcome.SKIPPED:
        fields.update(status=Status.SKIPPED, error=result.error, next_attempt_at=None)
    elif result.outcome is Outcome.RETRY and attempts < MAX_ATTEMPTS:
        wait = backoff(attempts)
        if result.retry_after:
            wait = min(max(wait, timedelta(seconds=result.retry_after)), BACKOFF_CAP)
        fields.update(status=Status.QUEUED, error=result.error, next_attempt_at=now + wait)
    else:
        error = result.error
        if result.outcome is Outcome.RETRY:
            error = f"gave up after {attempts} attempts: {error}"
        fields.update(status=Status.FAILED, error=error, next_attempt_at=None)

    # Only the holder of this attempt writes: attempts and the lease it set are unchanged
    # since the claim (a resend resets both). A send that went out is recorded even if
    # staff cancelled meanwhile: it is the truth.
    mine = Message.objects.filter(
        pk=message.pk, attempts=attempts, next_attempt_at=message.next_attempt_at
    )
    if result.outcome is Outcome.SENT:
        mine = mine.exclude(status=Status.SENT)
    else:
        mine = mine.filter(status=Status.QUEUED)
    released = None
    with transaction.atomic():
        # FOR UPDATE (PostgreSQL; SQLite's transaction holds the write lock already): an
        # engagement UPDATE waits for this write, or this read waits for it and sees it.
        stored = mine.select_for_update().values_list("status", "delivery").first()
        if stored is not None:
            status, stored_delivery = stored[0], dict(stored[1] or {})
            facts = _outcome_facts(message, result, backend, now)
            delivery = {**stored_delivery, **facts}
            released = slots_release(delivery) if ends_unsent else None
            fields["delivery"] = delivery
            if result.outcome is Outcome.SENT:
                fields["status"] = _status_when_sent(status, stored_delivery)
            Message.objects.filter(pk=message.pk).update(**fields)
    if stored is None:
        logger.warning(
            "message %s changed during attempt %s; outcome %s not recorded",
            message.pk,
            attempts,
            result.outcome.value,
        )
    elif released:
        slots_return(message, released)
    if refresh:
        message.refresh_from_db()
    return message


# --- Support staff -----------------------------------------------------------------


def message_resend(message: Message, *, actor: str = "") -> bool:
    """Put a failed or skipped message back in the queue now; False if it was neither."""
    now = timezone.now()
    entry = {"at": now.isoformat(), "outcome": "resend", "by": actor, "attempts": message.attempts}
    changed = delivery_write(
        Message.objects.filter(pk=message.pk, status__in=[Status.FAILED, Status.SKIPPED]),
        {},
        entry,
        status=Status.QUEUED,
        attempts=0,
        error="",
        next_attempt_at=now,
    )
    if changed is not None:
        dispatch([message.pk])
    message.refresh_from_db()
    return changed is not None


def message_cancel(message: Message, *, actor: str = "") -> bool:
    """Skip a queued message ("cancelled by staff"); False if it was not queued.

    A send already in flight may still go out; it is then recorded as sent.
    """
    now = timezone.now()
    entry = {"at": now.isoformat(), "outcome": "cancel", "by": actor}
    # next_attempt_at stays: it is the lease an in-flight attempt checks when it records.
    changed = delivery_write(
        Message.objects.filter(pk=message.pk, status=Status.QUEUED),
        {},
        entry,
        status=Status.SKIPPED,
        error="cancelled by staff",
    )
    message.refresh_from_db()
    return changed is not None
