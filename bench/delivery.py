"""Delivery benchmark: webhooks/s and emails/s through the real delivery path, beside a plain
client loop in the same run.

Run it with PostgreSQL (the benchmark creates, migrates and drops its own database,
``journeys_bench_delivery``; nothing else is touched), or without ``DATABASE_URL`` on a
scratch SQLite file::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/delivery.py \
        [--webhooks 5000] [--emails 2000] [--keep]

1. Starts a local HTTP receiver (keep-alive, answers 200 "ok") and a local SMTP server
   (aiosmtpd), each in its own process, so they do not share this process's GIL.
2. Writes outbox rows as the engine does (``Message``, queued, due now): ``--webhooks``
   webhook messages and ``--emails`` email messages.
3. Delivers them as one worker does (and again, new rows, with ``--workers`` worker
   processes sharing the batches, as Celery's prefork pool runs them): ``engine.delivery.deliver_messages`` on batches of
   ``BATCH_SIZE`` ids, with its claim, its sending threads (``JOURNEYS_DELIVERY_THREADS``),
   the pooled webhook client and pooled SMTP connections, and its outcome writes.
4. Beside it, the baseline: a plain loop posting the same payloads with one
   ``httpx.Client`` (one keep-alive connection, sequential), and ``smtplib`` sending the
   same mails on one connection.
5. Checks every row is ``sent`` and the receivers got them all, and prints ``BENCH`` rows
   (goal: at least 1,000 webhooks/s).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import smtplib
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from common import free_port, recreate_database, with_db  # bench/common.py

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "journeys_bench_delivery"
GOAL_WEBHOOKS = 1000.0


def bench_row(figure: str, value: str, baseline: str, ratio: str, goal: str) -> None:
    """One row of ``make bench``'s table (bench/run.py reads lines starting with BENCH)."""
    print("\t".join(["BENCH", f"delivery: {figure}", value, baseline, ratio, goal]), flush=True)


# --- the receivers (each in its own process) ------------------------------------------------


def http_receiver(port: int, count: Any, ready: Any) -> None:
    """A minimal HTTP/1.1 keep-alive server: reads each request (headers, Content-Length
    body) and answers 200 "ok"; ``count`` counts the requests."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:].strip())
                if length:
                    await reader.readexactly(length)
                with count.get_lock():
                    count.value += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def smtp_receiver(port: int, count: Any, ready: Any) -> None:
    """aiosmtpd on 127.0.0.1 counting the messages it accepts."""
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with count.get_lock():
                count.value += 1
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def start(target: Any, port: int) -> tuple[multiprocessing.Process, Any]:
    count = multiprocessing.Value("q", 0)
    ready = multiprocessing.Event()
    process = multiprocessing.Process(target=target, args=(port, count, ready), daemon=True)
    process.start()
    if not ready.wait(20):
        raise SystemExit(f"bench/delivery.py: {target.__name__} did not start")
    return process, count


# --- Django and the outbox rows ---------------------------------------------------------------


def setup_django(database_url: str, http_port: int, smtp_port: int, record_dir: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{smtp_port}"
    os.environ["DEFAULT_FROM_EMAIL"] = "bench@example.com"
    os.environ["JOURNEYS_WEBHOOK_ALLOW_PRIVATE"] = "1"  # the receiver is on 127.0.0.1
    os.environ["JOURNEYS_RECORD_DIR"] = record_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeys_site.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def payload(i: int) -> str:
    return f'{{"event": "Cart Abandoned", "user": "u-{i}", "total": {i % 500}.5}}'


def mail_text(i: int) -> tuple[str, str]:
    return (f"Your cart misses you, u-{i}", f"Hi u-{i}, your cart is still waiting.")


def outbox_rows(http_url: str, webhooks: int, emails: int) -> tuple[list[int], list[int]]:
    """Profiles, their enrollments and the queued outbox rows, bulk-written."""
    from django.utils import timezone

    from builder.models import Journey, JourneyVersion
    from engine.models import Enrollment, Message, Profile, Project

    now = timezone.now()
    project = Project.objects.create(name="Bench delivery")
    journey = Journey.objects.create(project=project, name="Bench", status="live")
    version = JourneyVersion.objects.create(journey=journey, number=1, definition={})
    users = max(webhooks, emails)
    profiles = Profile.objects.bulk_create(
        [
            Profile(project=project, external_id=f"u-{i}", email=f"u{i}@example.com")
            for i in range(users)
        ],
        batch_size=2000,
    )
    enrollments = Enrollment.objects.bulk_create(
        [
            Enrollment(project=project, journey=journey, version=version, profile=p, node="hook")
            for p in profiles
        ],
        batch_size=2000,
    )

    def rows(channel: str, node: str, n: int) -> list[int]:
        made = Message.objects.bulk_create(
            [
                Message(
                    project=project,
                    journey=journey,
                    enrollment=enrollments[i],
                    profile=profiles[i],
                    node=node,
                    visit=1,
                    channel=channel,
                    rendered=(
                        {"url": f"{http_url}/hook", "method": "POST", "body": payload(i)}
                        if channel == "webhook"
                        else {
                            "to": f"u{i}@example.com",
                            "subject": mail_text(i)[0],
                            "text": mail_text(i)[1],
                            "html": f"<p>{mail_text(i)[1]}</p>",
                        }
                    ),
                    created_at=now,
                    next_attempt_at=now,
                )
                for i in range(n)
            ],
            batch_size=2000,
        )
        return [m.pk for m in made]

    return rows("webhook", "hook", webhooks), rows("email", "mail", emails)


def deliver(ids: list[int], profile: bool = False) -> float:
    """Seconds to deliver these rows as one worker does, batch after batch (``profile``:
    print where this thread's time went)."""
    import cProfile
    import pstats

    from engine.delivery import BATCH_SIZE, deliver_messages

    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    for first in range(0, len(ids), BATCH_SIZE):
        deliver_messages(ids[first : first + BATCH_SIZE])
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return time.perf_counter() - started


def _worker(batches: list[list[int]]) -> None:
    from engine.delivery import deliver_messages

    for batch in batches:
        deliver_messages(batch)


def deliver_in_processes(ids: list[int], workers: int) -> float:
    """Seconds to deliver these rows with ``workers`` worker processes (as Celery's prefork
    pool runs them), the batches shared out among them."""
    from django.db import connections

    from engine.delivery import BATCH_SIZE

    batches = [ids[i : i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]
    connections.close_all()  # each process opens its own
    fork = multiprocessing.get_context("fork")
    processes = [fork.Process(target=_worker, args=(batches[n::workers],)) for n in range(workers)]
    started = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return time.perf_counter() - started


def check_sent(ids: list[int], what: str) -> None:
    from django.db.models import Count

    from engine.models import Message

    statuses = dict(
        Message.objects.filter(pk__in=ids).values_list("status").annotate(n=Count("id"))
    )
    if statuses != {"sent": len(ids)}:
        errors = list(
            Message.objects.filter(pk__in=ids).exclude(status="sent").values_list("error")[:3]
        )
        raise SystemExit(f"bench/delivery.py: {what} not all sent: {statuses} {errors}")


# --- the baselines ------------------------------------------------------------------------------


def plain_webhooks(http_url: str, n: int) -> float:
    import httpx

    started = time.perf_counter()
    with httpx.Client(timeout=10) as client:
        for i in range(n):
            response = client.post(
                f"{http_url}/hook",
                content=payload(i).encode(),
                headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": f"journeys-msg-{i}",
                    "User-Agent": "Journeys-Webhook/1",
                },
            )
            response.raise_for_status()
    return time.perf_counter() - started


def plain_emails(smtp_port: int, n: int) -> float:
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
        for i in range(n):
            subject, text = mail_text(i)
            message = EmailMessage()
            message["Subject"] = subject
            message["From"] = "bench@example.com"
            message["To"] = f"u{i}@example.com"
            message["Message-ID"] = f"<journeys-msg-{i}@example.com>"
            message.set_content(text)
            message.add_alternative(f"<p>{text}</p>", subtype="html")
            smtp.send_message(message)
    return time.perf_counter() - started


def wait_count(count: Any, expected: int, what: str) -> None:
    deadline = time.monotonic() + 30
    while count.value < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    if count.value < expected:
        raise SystemExit(f"bench/delivery.py: {what}: {count.value} of {expected} arrived")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--webhooks", type=int, default=5000)
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--profile", action="store_true", help="profile the delivery runs")
    parser.add_argument(
        "--workers", type=int, default=2, help="worker processes for the second webhook run"
    )
    args = parser.parse_args()

    http_port, smtp_port = free_port(), free_port()
    receivers = [start(http_receiver, http_port), start(smtp_receiver, smtp_port)]
    (_, http_count), (_, smtp_count) = receivers
    http_url = f"http://127.0.0.1:{http_port}"

    admin = os.environ.get("DATABASE_URL", "")
    scratch = tempfile.TemporaryDirectory(prefix="bench-delivery-")
    if admin.startswith(("postgres://", "postgresql://")):
        url, kind = with_db(admin, BENCH_DB), "PostgreSQL"
        recreate_database(admin, BENCH_DB)
    else:
        url, kind = f"sqlite:///{scratch.name}/bench.sqlite3", "SQLite"
    try:
        setup_django(url, http_port, smtp_port, f"{scratch.name}/outbox")
        from django.conf import settings

        threads = settings.JOURNEYS_DELIVERY_THREADS
        print(
            f"bench/delivery.py: {kind}, {os.cpu_count()} CPUs, {threads} sending threads, "
            f"{args.webhooks:,} webhooks, {args.emails:,} emails",
            flush=True,
        )
        hooks, mails = outbox_rows(http_url, args.webhooks, args.emails)
        more_hooks, _ = outbox_rows(http_url, args.webhooks, 0)

        plain_hook_s = plain_webhooks(http_url, args.webhooks)
        wait_count(http_count, args.webhooks, "plain webhooks")
        http_count.value = 0
        hook_s = deliver(hooks, args.profile)
        wait_count(http_count, args.webhooks, "delivered webhooks")
        check_sent(hooks, "webhooks")
        http_count.value = 0
        workers_s = deliver_in_processes(more_hooks, args.workers)
        wait_count(http_count, args.webhooks, "webhooks delivered by worker processes")
        check_sent(more_hooks, "webhooks (worker processes)")

        plain_mail_s = plain_emails(smtp_port, args.emails)
        wait_count(smtp_count, args.emails, "plain emails")
        smtp_count.value = 0
        mail_s = deliver(mails, args.profile)
        wait_count(smtp_count, args.emails, "delivered emails")
        check_sent(mails, "emails")

        hook_rate, plain_hook_rate = args.webhooks / hook_s, args.webhooks / plain_hook_s
        mail_rate, plain_mail_rate = args.emails / mail_s, args.emails / plain_mail_s
        workers_rate = args.webhooks / workers_s
        print(f"webhooks: delivery {hook_rate:,.0f}/s, plain httpx loop {plain_hook_rate:,.0f}/s")
        print(f"webhooks: {args.workers} worker processes {workers_rate:,.0f}/s")
        print(f"emails:   delivery {mail_rate:,.0f}/s, plain smtplib loop {plain_mail_rate:,.0f}/s")
        plain_hooks = f"{plain_hook_rate:,.0f} (one httpx.Client, sequential)"
        for figure, rate, baseline, goal in [
            ("webhooks/s (deliver_messages, 1 worker)", hook_rate, plain_hooks, GOAL_WEBHOOKS),
            (
                f"webhooks/s ({args.workers} worker processes)",
                workers_rate,
                plain_hooks,
                GOAL_WEBHOOKS,
            ),
            ("emails/s (deliver_messages, pooled SMTP)", mail_rate, plain_mail_rate, 0.0),
        ]:
            plain = (
                baseline
                if isinstance(baseline, str)
                else f"{baseline:,.0f} (smtplib, one connection)"
            )
            base = plain_hook_rate if isinstance(baseline, str) else baseline
            met = "met" if rate >= goal else "NOT met"
            bench_row(
                figure,
                f"{rate:,.0f}",
                plain,
                f"{rate / base:.2f}x",
                f">= {goal:,.0f}/s {met}" if goal else "",
            )
    finally:
        from django.db import connections

        connections.close_all()
        for process, _ in receivers:
            process.terminate()
        if kind == "PostgreSQL" and not args.keep:
            recreate_database(admin, BENCH_DB, drop_only=True)
        scratch.cleanup()


if __name__ == "__main__":
    main()
