"""Delivery benchmark: webhooks/s and emails/s through the real delivery path, beside a plain
client loop in the same run.

Run it with PostgreSQL (the benchmark creates, migrates and drops its own database,
``journeys_bench_delivery``; nothing else is touched), or without ``DATABASE_URL`` on a
scratch SQLite file::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/delivery.py \
        [--webhooks 5000] [--emails 2000] [--keep]

1. Starts a local HTTP receiver (a lean asyncio.Protocol, keep-alive, answers 200 "ok";
   its CPU use is printed beside each run, so one can see it is not the bottleneck) and a
   local SMTP server (aiosmtpd), each in its own process, so they do not share this
   process's GIL.
2. Writes outbox rows as the engine does (``Message``, queued, due now): ``--webhooks``
   webhook messages and ``--emails`` email messages.
3. Delivers them as one worker does (and again, new rows, with ``--workers`` worker
   processes sharing the batches, as Celery's prefork pool runs them): ``engine.delivery.deliver_messages`` on batches of
   ``BATCH_SIZE`` ids, with its claim, its sending threads (``JOURNEYS_DELIVERY_THREADS``),
   the pooled webhook connections and pooled SMTP connections, and its outcome writes.
4. Beside it, the baselines, same receiver: plain loops posting the same payloads
   sequentially on one keep-alive connection, with ``http.client`` (the library the webhook
   backend uses: the ratio's baseline) and with ``httpx.Client``; and ``smtplib`` sending
   the same mails on one connection.
5. Checks every row is ``sent`` and the receivers got each request once (no fewer, no
   more), and prints ``BENCH`` rows (goal: at least 1,000 webhooks/s).

``--profile`` prints cProfile tables of the task's thread and of its sending threads.
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


RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def http_receiver(port: int, count: Any, ready: Any) -> None:
    """A lean HTTP/1.1 keep-alive server (an asyncio.Protocol, no stream objects, so it
    costs the bench little CPU): reads each request (headers, Content-Length body), even
    several in one read, answers 200 "ok" and counts it in ``count``."""

    class Receiver(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            buffer = self.buffer + data if self.buffer else data
            answers = 0
            while True:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buffer[:end].lower()
                length = 0
                at = head.find(b"\r\ncontent-length:")
                if at >= 0:
                    stop = head.find(b"\r\n", at + 2)
                    length = int(head[at + 17 : stop if stop >= 0 else len(head)])
                whole = end + 4 + length
                if len(buffer) < whole:
                    break
                buffer = buffer[whole:]
                answers += 1
            self.buffer = buffer
            if answers:
                count.value += answers  # this process alone writes it (a RawValue)
                self.transport.write(RESPONSE * answers)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Receiver, "127.0.0.1", port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def smtp_receiver(port: int, count: Any, ready: Any) -> None:
    """aiosmtpd on 127.0.0.1 counting the messages it accepts."""
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            count.value += 1  # the handler runs on the controller's one thread
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def start(target: Any, port: int) -> tuple[multiprocessing.Process, Any]:
    count = multiprocessing.RawValue("q", 0)
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
    print where the time went, in the task's thread and in its sending threads)."""
    import cProfile
    import pstats
    import threading

    from engine import delivery
    from engine.delivery import BATCH_SIZE, deliver_messages

    profilers: list[cProfile.Profile] = []
    send = delivery._send
    if profile:
        # Each sending thread profiles itself from its first send on.
        local = threading.local()

        def profiled_send(*args: Any, **kwargs: Any) -> Any:
            if not hasattr(local, "profiler"):
                local.profiler = cProfile.Profile()
                profilers.append(local.profiler)
                local.profiler.enable()
            return send(*args, **kwargs)

        delivery._send = profiled_send  # type: ignore[assignment]
        profilers.append(cProfile.Profile())
        profilers[0].enable()
    started = time.perf_counter()
    for first in range(0, len(ids), BATCH_SIZE):
        deliver_messages(ids[first : first + BATCH_SIZE])
    elapsed = time.perf_counter() - started
    if profile:
        delivery._send = send  # type: ignore[assignment]
        profilers[0].disable()
        print(f"--- profile: the task's thread ({len(ids):,} messages)")
        pstats.Stats(profilers[0]).sort_stats("tottime").print_stats(25)
        if len(profilers) > 1:
            print(f"--- profile: {len(profilers) - 1} sending threads together")
            pstats.Stats(*profilers[1:]).sort_stats("tottime").print_stats(25)
    return elapsed


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
    """The baseline: one httpx.Client (one keep-alive connection), sequential."""
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


def plain_http_client(http_port: int, n: int) -> float:
    """The baseline with the library the webhook backend uses: one http.client
    connection (keep-alive), sequential."""
    import http.client

    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
    try:
        for i in range(n):
            connection.request(
                "POST",
                "/hook",
                body=payload(i).encode(),
                headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": f"journeys-msg-{i}",
                    "User-Agent": "Journeys-Webhook/1",
                },
            )
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"bench/delivery.py: plain http.client got {response.status}")
    finally:
        connection.close()
    return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    """Wait until the receiver counted ``expected`` requests (no fewer, no more), then
    reset its count."""
    deadline = time.monotonic() + 30
    while count.value < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)  # a duplicate would arrive about now
    if count.value != expected:
        raise SystemExit(f"bench/delivery.py: {what}: {count.value} of {expected} arrived")
    count.value = 0


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

        receiver_pid = receivers[0][0].pid
        n = args.webhooks
        timed: dict[str, tuple[float, float]] = {}  # what -> (seconds, receiver CPU seconds)

        def timed_run(what: str, run: Any) -> None:
            cpu = cpu_seconds(receiver_pid)
            seconds = run()
            wait_count(http_count, n, what)
            timed[what] = (seconds, cpu_seconds(receiver_pid) - cpu)

        timed_run("plain httpx loop", lambda: plain_webhooks(http_url, n))
        timed_run("plain http.client loop", lambda: plain_http_client(http_port, n))
        timed_run("deliver_messages, 1 worker", lambda: deliver(hooks, args.profile))
        check_sent(hooks, "webhooks")
        timed_run(
            f"{args.workers} worker processes",
            lambda: deliver_in_processes(more_hooks, args.workers),
        )
        check_sent(more_hooks, "webhooks (worker processes)")

        plain_mail_s = plain_emails(smtp_port, args.emails)
        wait_count(smtp_count, args.emails, "plain emails")
        mail_s = deliver(mails, args.profile)
        wait_count(smtp_count, args.emails, "delivered emails")
        check_sent(mails, "emails")

        rates = {what: n / seconds for what, (seconds, _) in timed.items()}
        for what, (seconds, cpu) in timed.items():
            print(
                f"webhooks: {what}: {rates[what]:,.0f}/s "
                f"(receiver busy {100 * cpu / seconds:.0f}% of one CPU)"
            )
        mail_rate, plain_mail_rate = args.emails / mail_s, args.emails / plain_mail_s
        print(f"emails:   delivery {mail_rate:,.0f}/s, plain smtplib loop {plain_mail_rate:,.0f}/s")
        base_name = "plain http.client loop"
        base = rates[base_name]
        baseline = f"{base:,.0f} (one http.client connection, sequential)"
        bench_row(
            "webhooks/s (plain httpx.Client loop)",
            f"{rates['plain httpx loop']:,.0f}",
            baseline,
            f"{rates['plain httpx loop'] / base:.2f}x",
            "",
        )
        for what in ("deliver_messages, 1 worker", f"{args.workers} worker processes"):
            met = "met" if rates[what] >= GOAL_WEBHOOKS else "NOT met"
            bench_row(
                f"webhooks/s ({what})",
                f"{rates[what]:,.0f}",
                baseline,
                f"{rates[what] / base:.2f}x",
                f">= {GOAL_WEBHOOKS:,.0f}/s {met}",
            )
        bench_row(
            "emails/s (deliver_messages, pooled SMTP)",
            f"{mail_rate:,.0f}",
            f"{plain_mail_rate:,.0f} (smtplib, one connection)",
            f"{mail_rate / plain_mail_rate:.2f}x",
            "",
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
