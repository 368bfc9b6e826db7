"""Engine benchmark: batched moves, a 100k-user due second on real workers, event -> outbox
latency under load, and worker memory against the number of waiting users.

Run against PostgreSQL and Redis (the benchmark creates, migrates and drops its own
database ``journeys_bench_engine``, or the one ``--database`` names; it flushes the Redis
database it is given, so give it one of its own)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/14 \
        .venv/bin/python bench/engine.py [--users 100000] [--fair 4000] [--only a,b,c,d]

Prints its figures, then one ``BENCH<TAB>figure<TAB>value<TAB>baseline<TAB>ratio<TAB>goal``
line per figure for ``make bench``'s table (bench/run.py).

(a) users/s through a non-sending block: N users at a due delay moved by
    ``runner.process_wakes`` in batches of 5,000, in one process and in the worker's two
    pool processes claiming due batches at once (SKIP LOCKED), against the per-user design
    as a competent engineer writes it (``bench.fair_wake``): one Celery task per user sent
    through the real broker (Redis) to a real ``celery worker`` process (``--concurrency 1``,
    then 2, the project's Celery settings), each task one transaction: ``UPDATE ... FROM
    (SELECT ... FOR UPDATE SKIP LOCKED) ... RETURNING``, then the step insert. Timed from
    the first task sent until the last user moved. Goals >= 20,000/s (two processes, as
    ``serve`` runs the worker) and >= 20x the per-user design. Beside them the physical
    floor: the same rows written as one ``INSERT ... SELECT`` of the steps plus one
    ``UPDATE`` of the enrollments (rows/s), and the engine's fraction of it.
(b) N users whose delay ends in the same second, moved by a real ``celery worker
    --concurrency 2`` fed by a ticker process (a loop calling ``ticker.tick``, timed):
    seconds from the due second until none is left at the delay. Goal <= 10 s.
(c) event -> outbox latency at 500 events/s for 20 s through daphne + a real worker
    (Message.created_at - Event.received_at): p50/p95/p99/max. Goal p99 < 1 s.
(d) RSS of the worker (beat running ``engine.tick`` on it every second) with 1,000,000
    users waiting at a long delay vs 1,000, after 30 s each. Goal: ratio ~ 1.

Every process it starts listens on or talks to 127.0.0.1 only and is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from common import free_port, recreate_database, with_db  # bench/common.py

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "journeys_bench_engine"
BATCH = 5000
FAIR_SAMPLE = 4000  # users moved by the per-user baseline (half with 1 worker process, half with 2)
FAIR_QUEUE = "bench_fair"  # the baseline's own queue: its worker takes nothing else
POOL = 2  # worker processes: `serve` runs the engine's worker with --concurrency 2
D_USERS = 1_000_000
D_BASELINE = 1_000
D_SECONDS = 30
C_RATE_BATCH = 50  # events per request
C_INTERVAL = 0.1  # seconds between requests -> 500 events/s
C_SECONDS = 20

GOAL_A_RATE = 20_000
GOAL_A_RATIO = 20
GOAL_B_SECONDS = 10
GOAL_C_P99 = 1.0


def fail(message: str) -> None:
    print(f"bench/engine.py: {message}", file=sys.stderr)
    sys.exit(2)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b else "n/a"


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def bench_row(figure: str, value: str, baseline: str = "", ratio: str = "", goal: str = "") -> None:
    """One row of ``make bench``'s table (bench/run.py reads lines starting with BENCH)."""
    print("\t".join(["BENCH", f"engine: {figure}", value, baseline, ratio, goal]), flush=True)


def load() -> str:
    """The machine's load: other work on the same CPUs slows every figure down."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f}/{five:.1f} on {os.cpu_count()} CPUs"


# --- processes -------------------------------------------------------------------------------


class Proc:
    """A process this benchmark started, in its own session so its children stop with it."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self._out = log.open("w")
        self.popen = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 15.0) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self._out.close()


class Bench:
    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.env = env
        self.tmp = tmp
        self.procs: list[Proc] = []

    def start(self, name: str, cmd: list[str]) -> Proc:
        proc = Proc(name, cmd, self.env, self.tmp / f"{name}.log")
        self.procs.append(proc)
        return proc

    def worker(self, name: str, concurrency: int = 2) -> Proc:
        return self.start(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "journeys_site",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(concurrency),
                "--hostname",
                f"{name}-{os.getpid()}@127.0.0.1",
                "--queues",
                "celery,delivery",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
        )

    def ticker_loop(self, name: str) -> tuple[Proc, Path]:
        out = self.tmp / f"{name}.jsonl"
        return self.start(name, [sys.executable, __file__, "--ticker-loop", str(out)]), out

    def beat(self, name: str) -> Proc:
        return self.start(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "journeys_site",
                "beat",
                "--loglevel",
                "INFO",
                "--pidfile=",
                "-s",
                str(self.tmp / "beat-schedule"),
            ],
        )

    def stop_all(self) -> None:
        for proc in self.procs:
            proc.stop()
        self.procs.clear()


def wait_worker_ready(proc: Proc, since: datetime, timeout: float = 60) -> None:
    from engine.models import Heartbeat

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            fail(f"{proc.name} exited; see {proc.log}:\n{proc.log.read_text()[-3000:]}")
        if Heartbeat.objects.filter(name="worker", seen_at__gte=since).exists():
            # worker_ready fires in the main process; give the pool a moment to fork.
            time.sleep(0.5)
            return
        time.sleep(0.2)
    fail(f"{proc.name} not ready after {timeout}s; see {proc.log}")


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


# --- the ticker loop (a child process) -------------------------------------------------------


def run_ticker_loop(out_path: str) -> None:
    """Every second, like beat: ``engine.ticker.tick(dispatch_to_celery)``; each claim pass
    (``collect``) is timed and written as a JSON line."""
    import django

    django.setup()
    from django.db import close_old_connections

    from engine import ticker
    from engine.work import dispatch_to_celery

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    out = open(out_path, "a", buffering=1)  # noqa: SIM115
    real_collect = ticker.collect

    def timed_collect(now: datetime, limit: int = 5000) -> list[Any]:
        started = time.time()
        work = real_collect(now, limit)
        ended = time.time()
        # Units are "up to `limit` due users at one block"; the task claims them.
        ids = sum(
            args[-2] if kind != "time_outs" else args[0]
            for kind, args in work
            if kind in ("wakes", "arrivals", "time_outs", "activate")
        )
        out.write(json.dumps({"t0": started, "t1": ended, "units": len(work), "ids": ids}) + "\n")
        return work

    def dispatch(kind: str, args: tuple[Any, ...]) -> None:
        t0 = time.time()
        dispatch_to_celery(kind, args)
        out.write(json.dumps({"dispatch": time.time() - t0}) + "\n")

    ticker.collect = timed_collect  # type: ignore[assignment]
    next_at = math.ceil(time.time())
    while not stop.is_set():
        delay = next_at - time.time()
        if delay > 0 and stop.wait(delay):
            break
        next_at = max(next_at + 1, math.floor(time.time()))
        close_old_connections()
        try:
            ticker.tick(dispatch)
        except Exception as exc:  # keep ticking, like beat would on the next second
            out.write(json.dumps({"error": repr(exc)}) + "\n")
    out.close()


def read_ticker_log(path: Path) -> tuple[list[dict[str, Any]], float]:
    passes, dispatch = [], 0.0
    if path.exists():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if "t0" in row:
                passes.append(row)
            elif "dispatch" in row:
                dispatch += row["dispatch"]
            elif "error" in row:
                print(f"    ticker error: {row['error']}")
    return passes, dispatch


TASK_DONE = re.compile(r"Task ((?:engine|bench)\.[a-z_]+)\[[^\]]+\] succeeded in ([0-9.]+)s")


def task_times(log: Path) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    for match in TASK_DONE.finditer(log.read_text(errors="replace")):
        times.setdefault(match.group(1), []).append(float(match.group(2)))
    return times


# --- data --------------------------------------------------------------------------------------


def definition(entry_event: str, nodes: list[dict[str, Any]]) -> dict[str, Any]:
    ids = ["entry", *(n["id"] for n in nodes)]
    return {
        "settings": {"allow_reentry": False},
        "entry": {"id": "entry", "type": "action", "event": entry_event},
        "nodes": nodes,
        "edges": [{"from": a, "to": b} for a, b in itertools.pairwise(ids)],
    }


def publish(project: Any, user: Any, name: str, body: dict[str, Any]) -> tuple[int, int]:
    from django.db import transaction

    from builder import services as builder_services

    with transaction.atomic():
        journey = builder_services.journey_create(
            project=project, user=user, name=name, definition=body
        )
        journey = builder_services.journey_publish(journey=journey, user=user)
    return journey.pk, journey.live_version_id


def table(model_path: str) -> str:
    from django.apps import apps

    return apps.get_model(model_path)._meta.db_table


def create_profiles(project_id: int, count: int) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            f"""INSERT INTO {table("engine.Profile")}
                (project_id, external_id, email, phone, timezone, properties, push_tokens,
                 created_at, updated_at)
            SELECT %s, 'u-' || g, 'u' || g || '@example.com', '', '', '{{}}', '[]', now(), now()
            FROM generate_series(1, %s) AS g""",
            [project_id, count],
        )


def add_waiting(
    project_id: int,
    journey_id: int,
    version_id: int,
    node: str,
    count: int,
    wake_at: datetime,
    *,
    offset: int = 0,
) -> list[int]:
    """``count`` users (profiles offset+1 ..) waiting at ``node`` until ``wake_at``: one
    INSERT ... SELECT, nothing through the API."""
    from django.db import connection

    since = wake_at - timedelta(hours=1)
    with connection.cursor() as cur:
        cur.execute(
            f"""INSERT INTO {table("engine.Enrollment")}
                (project_id, journey_id, version_id, profile_id, state, node, node_state, visit,
                 revision, entry_number, wake_at, deadline, entered_at, node_entered_at,
                 exited_at, exit_reason, exit_node, trigger_event_id, context)
            SELECT %s, %s, %s, p.id, 'active', %s, 'waiting', 2, 1, 1, %s, NULL, %s, %s,
                   NULL, '', '', NULL, '{{}}'
            FROM (SELECT id FROM {table("engine.Profile")} WHERE project_id = %s
                  ORDER BY id OFFSET %s LIMIT %s) AS p
            RETURNING id""",
            [
                project_id,
                journey_id,
                version_id,
                node,
                wake_at,
                since,
                since,
                project_id,
                offset,
                count,
            ],
        )
        return sorted(r[0] for r in cur.fetchall())


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"VACUUM ANALYZE {table('engine.Enrollment')}")
        cur.execute(f"ANALYZE {table('engine.Profile')}")


def at_node(journey_id: int, node: str) -> int:
    from engine.models import Enrollment

    return Enrollment.objects.filter(journey_id=journey_id, node=node, state="active").count()


# --- (a) --------------------------------------------------------------------------------------


def fair_wake_task() -> Any:
    """The per-user design as a competent engineer writes it: one task per user, one
    transaction: lock and move the row (``UPDATE ... FROM (SELECT ... FOR UPDATE SKIP
    LOCKED) ... RETURNING``), then insert its step. Same options as the engine's tasks.
    Registered in the baseline's worker (``--fair-worker``) and in the sender."""
    from django.db import connection, transaction
    from django.utils import timezone

    from engine.tasks import TASK_OPTIONS
    from journeys_site.celery import app

    enrollment, step = table("engine.Enrollment"), table("engine.Step")

    @app.task(name="bench.fair_wake", **TASK_OPTIONS)
    def fair_wake(version_number: int, node: str, to: str, enrollment_id: int) -> int:
        now = timezone.now()
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                f"""UPDATE {enrollment} e SET node = %s, visit = e.visit + 1,
                        node_entered_at = %s, node_state = 'waiting', wake_at = %s,
                        context = '{{}}'::jsonb, revision = e.revision + 1
                    FROM (SELECT id, visit, node_entered_at FROM {enrollment}
                          WHERE id = %s AND node = %s AND state = 'active'
                            AND node_state = 'waiting' AND wake_at <= %s
                          FOR UPDATE SKIP LOCKED) old
                    WHERE e.id = old.id
                    RETURNING e.id, e.journey_id, e.profile_id, old.visit, old.node_entered_at""",
                [to, now, now + timedelta(days=1), enrollment_id, node, now],
            )
            row = cur.fetchone()
            if row is None:
                return 0
            cur.execute(
                f"""INSERT INTO {step} (enrollment_id, journey_id, version_number, profile_id,
                        node, visit, entered_at, left_at, outcome, branch, detail)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'next', '',
                            jsonb_build_object('waited_seconds', 3600))
                    ON CONFLICT (enrollment_id, node, visit) DO NOTHING""",
                [row[0], row[1], version_number, row[2], node, row[3], row[4], now],
            )
        return 1

    return fair_wake


def physical_floor(ids: list[int], version_number: int, node: str, to: str) -> float:
    """Seconds to write the same rows with no engine at all: one ``INSERT ... SELECT`` of
    the steps and one ``UPDATE`` of the enrollments, for every id at once."""
    from django.db import connection, transaction
    from django.utils import timezone

    enrollment, step = table("engine.Enrollment"), table("engine.Step")
    now = timezone.now()
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            f"""INSERT INTO {step} (enrollment_id, journey_id, version_number, profile_id, node,
                    visit, entered_at, left_at, outcome, branch, detail)
                SELECT id, journey_id, %s, profile_id, node, visit, node_entered_at, %s, 'next',
                       '', jsonb_build_object('waited_seconds', 3600)
                FROM {enrollment} WHERE id = ANY(%s)""",
            [version_number, now, ids],
        )
        cur.execute(
            f"""UPDATE {enrollment} SET node = %s, visit = visit + 1, node_entered_at = %s,
                    wake_at = %s, context = '{{}}'::jsonb, revision = revision + 1
                WHERE id = ANY(%s)""",
            [to, now, now + timedelta(days=1), ids],
        )
    return time.perf_counter() - t0


def run_fair_worker(concurrency: str) -> None:
    """The baseline's worker (a child process): a real ``celery worker`` of the project's app
    and settings, with ``bench.fair_wake`` registered, taking only the baseline's queue."""
    import django

    django.setup()
    from journeys_site.celery import app

    fair_wake_task()
    app.worker_main(
        [
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            concurrency,
            "--hostname",
            f"fair-{os.getpid()}@127.0.0.1",
            "--queues",
            FAIR_QUEUE,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


def fair_through_broker(
    ctx: dict[str, Any], concurrency: int, version_number: int, ids: list[int]
) -> float:
    """Seconds for a real worker process (``--concurrency``) to move ``ids`` when each user is
    one ``bench.fair_wake`` task sent through Redis: from the first send to the last move."""
    from django.utils import timezone

    from journeys_site.celery import app

    bench: Bench = ctx["bench"]
    flush_redis(ctx["redis_url"])
    started = timezone.now()
    worker = bench.start(
        f"a-fair-worker-{concurrency}",
        [sys.executable, __file__, "--fair-worker", str(concurrency)],
    )
    wait_worker_ready(worker, started)
    from engine.models import Enrollment

    def left_of_ids() -> int:  # cheap (by primary key), so polling takes little from the worker
        return Enrollment.objects.filter(id__in=ids, node="wait").count()

    t0 = time.perf_counter()
    with app.producer_or_acquire() as producer:
        for enrollment_id in ids:
            app.send_task(
                "bench.fair_wake",
                args=(version_number, "wait", "wait2", enrollment_id),
                queue=FAIR_QUEUE,
                producer=producer,
            )
    sent_s = time.perf_counter() - t0
    deadline = time.monotonic() + 60 + len(ids) / 20
    while (left := left_of_ids()) and time.monotonic() < deadline:
        if not worker.alive():
            fail(f"{worker.name} exited; see {worker.log}:\n{worker.log.read_text()[-3000:]}")
        time.sleep(0.1)
    elapsed = time.perf_counter() - t0
    worker.stop()
    if left:
        print(f"    WARNING: the per-user baseline left {left:,} of {len(ids):,} unmoved")
    done = len(task_times(worker.log).get("bench.fair_wake", []))
    print(
        f"    per-user baseline, worker --concurrency {concurrency}: {len(ids):,} tasks sent in "
        f"{sent_s:.2f}s, all moved {elapsed:.2f}s after the first send ({done:,} tasks logged)"
    )
    return elapsed


def in_processes(count: int, work: Any, shares: list[Any]) -> tuple[float, int]:
    """Run ``work(share)`` in ``count`` forked processes at once (each with its own database
    connection, as a worker's pool processes have): (seconds, sum of what they returned)."""
    import multiprocessing

    from django.db import connections

    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()

    def run(share: Any) -> None:
        results.put(work(share))
        connections.close_all()

    procs = [ctx.Process(target=run, args=(share,)) for share in shares[:count]]
    t0 = time.perf_counter()
    for proc in procs:
        proc.start()
    total = sum(results.get() for _ in procs)
    for proc in procs:
        proc.join()
    return time.perf_counter() - t0, total


def part_a(ctx: dict[str, Any], users: int, fair_sample: int) -> None:
    from django.utils import timezone

    from builder.models import JourneyVersion
    from engine import runner
    from engine.models import Step

    print(f"\n(a) users/s through a non-sending block (delay -> delay), {users:,} users; {load()}")
    nodes = [
        {"id": "wait", "type": "delay", "duration": "PT1H"},
        {"id": "wait2", "type": "delay", "duration": "P1D"},
    ]
    journey_id, version_id = publish(
        ctx["project"], ctx["user"], "A: delay -> delay", definition("A Go", nodes)
    )
    pool_journey, pool_version = publish(
        ctx["project"], ctx["user"], "A2: delay -> delay", definition("A2 Go", nodes)
    )
    due = timezone.now() - timedelta(seconds=1)
    t0 = time.perf_counter()
    ids = add_waiting(ctx["project"].pk, journey_id, version_id, "wait", users, due)
    add_waiting(ctx["project"].pk, pool_journey, pool_version, "wait", users, due, offset=users)
    fair_journey, fair_version = publish(
        ctx["project"], ctx["user"], "A3: delay -> delay", definition("A3 Go", nodes)
    )
    fair_ids = add_waiting(ctx["project"].pk, fair_journey, fair_version, "wait", fair_sample, due)
    floor_journey, floor_version = publish(
        ctx["project"], ctx["user"], "A4: delay -> delay", definition("A4 Go", nodes)
    )
    floor_ids = add_waiting(ctx["project"].pk, floor_journey, floor_version, "wait", users, due)
    analyze()
    print(
        f"    {len(ids) + users + len(fair_ids) + len(floor_ids):,} waiting enrollments inserted "
        f"in {time.perf_counter() - t0:.1f}s"
    )

    # The worker's pool (serve runs --concurrency 2): two processes claim due batches of the
    # same block at once, as the ticker's units do (FOR UPDATE SKIP LOCKED keeps them apart).
    def claim_until_empty(_: Any) -> int:
        done = 0
        while count := runner.process_wakes(pool_version, "wait", limit=BATCH):
            done += count
        return done

    pool_s, pool_moved = in_processes(POOL, claim_until_empty, [None] * POOL)
    if pool_moved != users:
        print(f"    WARNING: the pool moved {pool_moved:,} of {users:,}")
    pool_rate = users / pool_s
    analyze()  # the same starting point for the next measurement: no dead rows to skip

    # One process: process_wakes on batches of the given ids.
    moved = 0
    t0 = time.perf_counter()
    for start in range(0, len(ids), BATCH):
        moved += runner.process_wakes(version_id, "wait", ids[start : start + BATCH])
    batched_s = time.perf_counter() - t0
    if moved != users:
        print(f"    WARNING: process_wakes moved {moved:,} of {users:,}")
    rate = users / batched_s

    # The per-user design: one task per user through Redis to a real worker, with one
    # worker process and then with the worker's two.
    fair_number = JourneyVersion.objects.get(pk=fair_version).number
    quarter = fair_sample // 4
    half = (fair_sample - quarter) // 2
    fair_one, fair_rest = fair_ids[quarter : quarter + half], fair_ids[quarter + half :]
    fair_s = fair_through_broker(ctx, 1, fair_number, fair_one)
    fair_rate = len(fair_one) / fair_s
    fair_pool_s = fair_through_broker(ctx, POOL, fair_number, fair_rest)
    fair_pool_rate = len(fair_rest) / fair_pool_s
    # What of it is the database's work: the same task body called in this process
    # (.apply: no broker, no worker), one user at a time.
    fair_wake = fair_wake_task()
    t0 = time.perf_counter()
    for enrollment_id in fair_ids[:quarter]:
        fair_wake.apply(args=(fair_number, "wait", "wait2", enrollment_id))
    body_rate = quarter / (time.perf_counter() - t0)

    floor_number = JourneyVersion.objects.get(pk=floor_version).number
    floor_rate = users / physical_floor(floor_ids, floor_number, "wait", "wait2")

    left = at_node(journey_id, "wait") + at_node(pool_journey, "wait")
    left += at_node(fair_journey, "wait") + at_node(floor_journey, "wait")
    steps = Step.objects.filter(node="wait").count()
    print(
        f"    batched, 1 process (process_wakes x {BATCH:,} ids): {users:,} in {batched_s:.2f}s "
        f"= {rate:,.0f} users/s"
    )
    print(
        f"    batched, {POOL} processes (each claims due batches of {BATCH:,}): {users:,} in "
        f"{pool_s:.2f}s = {pool_rate:,.0f} users/s"
    )
    print(
        f"    per-user baseline (one Celery task per user through Redis to a real worker; one "
        f"transaction each: UPDATE ... FOR UPDATE SKIP LOCKED ... RETURNING, then the step), "
        f"1 process: {len(fair_one):,} in {fair_s:.2f}s = {fair_rate:,.0f} users/s; {POOL} "
        f"processes: {len(fair_rest):,} in {fair_pool_s:.2f}s = {fair_pool_rate:,.0f} users/s "
        f"(its task body alone, called in this process without broker or worker: "
        f"{body_rate:,.0f} users/s)"
    )
    ratio_ok = min(rate / fair_rate, pool_rate / fair_pool_rate) >= GOAL_A_RATIO
    print(
        f"    ratio batched/per-user: 1 process {ratio(rate, fair_rate)}, {POOL} processes "
        f"{ratio(pool_rate, fair_pool_rate)}  "
        f"[goal >= {GOAL_A_RATE:,}/s with the worker's {POOL} processes "
        f"{verdict(pool_rate >= GOAL_A_RATE)}; >= {GOAL_A_RATIO}x {verdict(ratio_ok)}]"
    )
    print(
        f"    physical floor (one INSERT ... SELECT of the steps + one UPDATE, {users:,} rows): "
        f"{floor_rate:,.0f} rows/s; the engine in 1 process reaches "
        f"{rate / floor_rate:.2f} of it, in {POOL} processes {pool_rate / floor_rate:.2f}"
    )
    expect = len(ids) + users + fair_sample + users
    print(f"    check: left at the delay {left}, steps logged {steps:,} (expect {expect:,})")
    goal = f">= {GOAL_A_RATIO}x"
    bench_row(
        "(a) users/s, batched, 1 process vs per-user tasks",
        f"{rate:,.0f}",
        f"{fair_rate:,.0f}",
        ratio(rate, fair_rate),
        goal,
    )
    bench_row(
        f"(a) users/s, batched, {POOL} processes vs per-user tasks",
        f"{pool_rate:,.0f}",
        f"{fair_pool_rate:,.0f}",
        ratio(pool_rate, fair_pool_rate),
        f">= {GOAL_A_RATE:,}/s, {goal}",
    )
    bench_row(
        "(a) users/s, batched, 1 process vs physical floor (rows/s)",
        f"{rate:,.0f}",
        f"{floor_rate:,.0f}",
        f"{rate / floor_rate:.2f}",
        "",
    )


# --- (b) --------------------------------------------------------------------------------------


def part_b(ctx: dict[str, Any], users: int) -> None:
    from django.utils import timezone

    from engine.models import Step

    bench: Bench = ctx["bench"]
    print(
        f"\n(b) {users:,} users whose delay ends in the same second; real worker (-c 2) + ticker; {load()}"
    )
    journey_id, version_id = publish(
        ctx["project"],
        ctx["user"],
        "B: delay -> delay",
        definition(
            "B Go",
            [
                {"id": "wait", "type": "delay", "duration": "PT1H"},
                {"id": "wait2", "type": "delay", "duration": "P1D"},
            ],
        ),
    )
    # The rows go in while the journey is paused (the ticker and the runner only touch
    # live journeys), all due at the same second; the journey goes live at a whole
    # second with a one-row UPDATE: from then on all of them are due at once, whatever
    # time the insert took.
    from builder.models import Journey

    Journey.objects.filter(pk=journey_id).update(status="paused")
    t_insert = time.time()
    due = datetime.fromtimestamp(math.floor(t_insert), tz=UTC)
    add_waiting(ctx["project"].pk, journey_id, version_id, "wait", users, due)
    analyze()
    print(
        f"    inserted {users:,} rows waiting at the delay (journey paused) in {time.time() - t_insert:.1f}s"
    )
    flush_redis(ctx["redis_url"])
    started = timezone.now()
    worker = bench.worker("b-worker")
    wait_worker_ready(worker, started)
    ticker, ticker_log = bench.ticker_loop("b-ticker")
    time.sleep(1.5)  # the ticker's first (empty) pass is done
    due_ts = math.ceil(time.time())
    # Live just before the whole second, so the ticker's pass at that second sees them due.
    time.sleep(max(0.0, due_ts - 0.05 - time.time()))
    Journey.objects.filter(pk=journey_id).update(status="live")

    timeout = 120
    left, done_at = users, None
    samples: list[tuple[float, int]] = []
    while time.time() < due_ts + timeout:
        left = at_node(journey_id, "wait")
        now = time.time()
        if now >= due_ts:
            samples.append((now - due_ts, left))
        if left == 0 and now >= due_ts:
            done_at = now
            break
        time.sleep(0.1)
    time.sleep(1.0)
    ticker.stop()
    worker.stop()
    passes, dispatch_s = read_ticker_log(ticker_log)
    claims = [p for p in passes if p["units"] and p["t1"] >= due_ts - 1]
    claim_s = sum(p["t1"] - p["t0"] for p in claims)
    claim_ids = sum(p["ids"] for p in claims)
    empty = [p["t1"] - p["t0"] for p in passes if not p["units"]]
    times = task_times(worker.log)
    wakes = times.get("engine.due_work", [])
    steps = Step.objects.filter(journey_id=journey_id, node="wait").count()

    if done_at is None:
        print(f"    NOT DONE: {left:,} still at the delay after {timeout}s")
        total = float("nan")
    else:
        total = done_at - due_ts
        print(
            f"    all {users:,} moved on {total:.2f}s after the due second = {users / total:,.0f} users/s  "
            f"[goal <= {GOAL_B_SECONDS}s {verdict(total <= GOAL_B_SECONDS)}]"
        )
    if claims:
        first, last = claims[0], claims[-1]
        print(
            f"    handing out (ticker.collect: count due per block, one unit per 5,000): {len(claims)} passes, {claim_ids:,} ids, "
            f"{claim_s:.2f}s in total ({claim_ids / max(claim_s, 1e-9):,.0f} ids/s); first claim at "
            f"+{first['t0'] - due_ts:.2f}s, last claim ended at +{last['t1'] - due_ts:.2f}s; "
            f"per pass {min(p['t1'] - p['t0'] for p in claims):.3f}..{max(p['t1'] - p['t0'] for p in claims):.3f}s; "
            f"dispatch to Redis {dispatch_s:.2f}s"
        )
        per_pass = [f"{p['t1'] - p['t0']:.2f}" for p in claims]
        print(f"    claim pass durations in order (s): {' '.join(per_pass)}")
    if empty:
        print(
            f"    an empty ticker pass (nothing due) takes {statistics.median(empty) * 1000:.1f} ms"
        )
    if wakes:
        print(
            f"    moving (engine.due_work on the worker): {len(wakes)} tasks, {sum(wakes):.2f}s of task time "
            f"over 2 processes (~{sum(wakes) / 2:.2f}s wall), {statistics.mean(wakes):.2f}s per task "
            f"({users / max(sum(wakes), 1e-9):,.0f} users/s per process)"
        )
    curve = [f"+{t:.0f}s:{n // 1000}k" for t, n in samples[:: max(1, len(samples) // 12)]]
    print(f"    left at the delay over time: {' '.join(curve)}")
    print(f"    check: steps logged at the delay {steps:,} (expect {users:,})")
    bench_row(
        f"(b) {users:,} due in one second, s until all moved (worker -c {POOL} + ticker)",
        f"{total:.2f}" if done_at is not None else f"not done in {timeout}s",
        "",
        "",
        f"<= {GOAL_B_SECONDS} s",
    )


# --- (c) --------------------------------------------------------------------------------------


def part_c(ctx: dict[str, Any]) -> None:
    import httpx
    from django.db import connection
    from django.utils import timezone

    from engine.models import Event, Message

    bench: Bench = ctx["bench"]
    rate = int(C_RATE_BATCH / C_INTERVAL)
    print(
        f"\n(c) event -> outbox latency at {rate} events/s for {C_SECONDS}s (daphne + worker -c 2 + ticker); "
        f"{load()}"
    )
    journey_id, _ = publish(
        ctx["project"],
        ctx["user"],
        "C: action -> webhook",
        definition(
            "C Ping",
            [
                {
                    "id": "hook",
                    "type": "webhook",
                    "url": "http://127.0.0.1:9/hook",
                    "body": '{"user": "{{ profile.id }}"}',
                }
            ],
        ),
    )
    flush_redis(ctx["redis_url"])
    port = free_port()
    started = timezone.now()
    web = bench.start(
        "c-web",
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "journeys_site.asgi:application",
        ],
    )
    worker = bench.worker("c-worker")
    wait_worker_ready(worker, started)
    ticker, _ = bench.ticker_loop("c-ticker")
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {ctx['project'].ingest_key}"}
    client = httpx.Client(base_url=base, headers=headers, timeout=30)
    for _ in range(100):
        try:
            client.get("/healthz")
            break
        except httpx.HTTPError:
            if not web.alive():
                fail(f"daphne exited; see {web.log}")
            time.sleep(0.2)

    run = secrets.token_hex(3)
    batches = int(C_SECONDS / C_INTERVAL)
    statuses: list[int] = []
    rtts: list[float] = []
    lock = threading.Lock()
    local = threading.local()

    def send(k: int) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, headers=headers, timeout=30)
        body = {
            "events": [
                {"id": f"c-{run}-{k}-{i}", "profile_id": f"c-{run}-{k}-{i}", "name": "C Ping"}
                for i in range(C_RATE_BATCH)
            ]
        }
        t0 = time.perf_counter()
        try:
            status = local.client.post("/api/v1/events", json=body).status_code
        except httpx.HTTPError:
            status = 0
        with lock:
            statuses.append(status)
            rtts.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        for k in range(batches):
            delay = t0 + k * C_INTERVAL - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, k)
        sent_s = time.perf_counter() - t0
    accepted = sum(C_RATE_BATCH for s in statuses if s == 202)
    # Wait for the outbox to catch up (the last events need processing too).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if Message.objects.filter(journey_id=journey_id).count() >= accepted:
            break
        time.sleep(0.25)
    ticker.stop()
    worker.stop()
    web.stop()
    client.close()
    with connection.cursor() as cur:
        cur.execute(
            f"""SELECT count(*),
                       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY lat),
                       max(lat)
                FROM (SELECT extract(epoch FROM m.created_at - e.received_at) AS lat
                      FROM {table("engine.Message")} m
                      JOIN {table("engine.Enrollment")} en ON en.id = m.enrollment_id
                      JOIN {table("engine.Event")} e ON e.id = en.trigger_event_id
                      WHERE m.journey_id = %s) AS s""",
            [journey_id],
        )
        count, (p50, p95, p99), worst = cur.fetchone()
    events = Event.objects.filter(name="C Ping").count()
    print(
        f"    sent {len(statuses)} requests ({accepted:,} events accepted, "
        f"{sum(1 for s in statuses if s != 202)} failed) in {sent_s:.1f}s = {accepted / sent_s:,.0f} events/s; "
        f"HTTP p50 {statistics.median(rtts) * 1000:.0f} ms, max {max(rtts) * 1000:.0f} ms"
    )
    print(
        f"    events stored {events:,}, outbox rows {count:,} "
        f"({accepted - count:,} events still without their message 30 s after the last send)"
    )
    if count:
        print(
            f"    latency Message.created_at - Event.received_at: p50 {p50 * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {worst * 1000:.0f} ms  "
            f"[goal p99 < {GOAL_C_P99:.0f}s {verdict(p99 < GOAL_C_P99 and count == accepted)}]"
        )
        bench_row(
            f"(c) event -> outbox p99 at {rate} events/s, ms",
            f"{p99 * 1000:.0f}",
            "",
            "",
            f"< {GOAL_C_P99 * 1000:.0f} ms, all {accepted:,} ({accepted - count:,} missing)",
        )
    times = task_times(worker.log)
    for name in ("engine.process_inbox", "engine.profiles_changed", "engine.deliver_messages"):
        if name in times:
            t = times[name]
            print(
                f"    {name}: {len(t)} tasks, mean {statistics.mean(t) * 1000:.0f} ms, max {max(t) * 1000:.0f} ms"
            )


# --- (d) --------------------------------------------------------------------------------------


def _pids(root: int) -> list[int]:
    """The process and its descendants (prefork pool children)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _measure_worker(ctx: dict[str, Any], label: str) -> tuple[float, float, list[float]]:
    from django.utils import timezone

    bench: Bench = ctx["bench"]
    flush_redis(ctx["redis_url"])
    started = timezone.now()
    worker = bench.worker(f"d-worker-{label}")
    wait_worker_ready(worker, started)
    beat = bench.beat(f"d-beat-{label}")
    peak_total = peak_child = 0.0
    t_end = time.monotonic() + D_SECONDS
    while time.monotonic() < t_end:
        time.sleep(1)
        pids = _pids(worker.popen.pid)
        sizes = [rss_mb(p) for p in pids]
        # The Popen'd process is the celery main process; its children are the pool.
        peak_total = max(peak_total, sum(sizes))
        peak_child = max([peak_child, *sizes[1:]])
    beat.stop()
    worker.stop()
    ticks = task_times(worker.log).get("engine.tick", [])
    return peak_total, peak_child, ticks


def part_d(ctx: dict[str, Any]) -> None:
    from django.db import connection
    from django.utils import timezone

    print(
        f"\n(d) worker RSS while users wait at a long delay (not due); beat runs engine.tick on "
        f"the worker every 1 s for {D_SECONDS}s; {load()}"
    )
    journey_id, version_id = publish(
        ctx["project"],
        ctx["user"],
        "D: long delay",
        definition(
            "D Go",
            [
                {"id": "wait", "type": "delay", "duration": "P30D"},
                {"id": "push", "type": "push", "title": "Hi", "body": "Back?"},
            ],
        ),
    )
    with connection.cursor() as cur:  # only this journey's users wait now
        cur.execute(
            f"TRUNCATE {table('engine.Message')}, {table('engine.Step')}, {table('engine.Enrollment')}"
        )
    wake = timezone.now() + timedelta(days=20)
    add_waiting(ctx["project"].pk, journey_id, version_id, "wait", D_BASELINE, wake)
    analyze()
    base_total, base_child, base_ticks = _measure_worker(ctx, "1k")
    t0 = time.perf_counter()
    add_waiting(
        ctx["project"].pk,
        journey_id,
        version_id,
        "wait",
        D_USERS - D_BASELINE,
        wake,
        offset=D_BASELINE,
    )
    analyze()
    print(f"    added {D_USERS - D_BASELINE:,} waiting users in {time.perf_counter() - t0:.1f}s")
    big_total, big_child, big_ticks = _measure_worker(ctx, "1m")
    print(
        f"    {D_BASELINE:,} waiting: worker RSS {base_total:.0f} MB (main + 2 pool processes), "
        f"largest pool process {base_child:.0f} MB"
    )
    print(
        f"    {D_USERS:,} waiting: worker RSS {big_total:.0f} MB, largest pool process {big_child:.0f} MB"
    )
    print(
        f"    ratio 1M/1k: total {big_total / base_total:.2f}, pool process {big_child / base_child:.2f}  "
        f"[goal ~1 {verdict(big_total / base_total < 1.2)}]"
    )
    bench_row(
        f"(d) worker RSS MB, {D_USERS:,} vs {D_BASELINE:,} waiting",
        f"{big_total:.0f}",
        f"{base_total:.0f}",
        f"{big_total / base_total:.2f}",
        "~1 (< 1.2)",
    )
    for label, ticks in (("1k", base_ticks), ("1M", big_ticks)):
        if ticks:
            print(
                f"    engine.tick on the worker ({label} waiting): {len(ticks)} ticks, "
                f"median {statistics.median(ticks) * 1000:.0f} ms, max {max(ticks) * 1000:.0f} ms"
            )


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000, help="users in (a) and (b)")
    parser.add_argument(
        "--fair", type=int, default=FAIR_SAMPLE, help="users moved by the per-user baseline in (a)"
    )
    parser.add_argument("--only", default="a,b,c,d", help="parts to run, e.g. a,b")
    parser.add_argument("--keep", action="store_true", help="keep the database and logs")
    parser.add_argument(
        "--database",
        default=BENCH_DB,
        help="the scratch database it creates and drops (give concurrent runs their own)",
    )
    parser.add_argument("--ticker-loop", help=argparse.SUPPRESS)
    parser.add_argument("--fair-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # The project before bench/: its `engine` app, not this file, is `import engine`.
    sys.path.insert(0, str(ROOT))
    if args.ticker_loop:
        run_ticker_loop(args.ticker_loop)
        return
    if args.fair_worker:
        run_fair_worker(args.fair_worker)
        return

    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    if not parts <= {"a", "b", "c", "d"}:
        fail("--only takes a comma-separated subset of a,b,c,d")
    database_url = os.environ.get("DATABASE_URL", "")
    if urlparse(database_url).scheme not in ("postgres", "postgresql"):
        fail("needs PostgreSQL: set DATABASE_URL=postgres://user@127.0.0.1:5432/anydb")
    redis_url = os.environ.get("REDIS_URL", "")
    if urlparse(redis_url).scheme != "redis":
        fail("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/<a database of its own>")
    for url in (database_url, redis_url):
        if urlparse(url).hostname not in ("127.0.0.1", "localhost", "::1"):
            fail(f"{url}: this benchmark only talks to 127.0.0.1")

    bench_db = args.database
    bench_url = with_db(database_url, bench_db)
    admin_url = with_db(database_url, "postgres")
    tmp = Path(tempfile.mkdtemp(prefix="journeys-bench-engine-"))
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "journeys_site.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(32),
        "JOURNEYS_VAR_DIR": str(tmp / "var"),
        "JOURNEYS_RECORD_DIR": str(tmp / "outbox"),
        "JOURNEYS_PUSH_BACKEND": "record",
        "JOURNEYS_WEBHOOK_BACKEND": "record",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    recreate_database(admin_url, bench_db)
    bench = Bench(env, tmp)
    began = time.perf_counter()
    try:
        import django

        django.setup()
        import logging

        logging.getLogger().setLevel(logging.WARNING)
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        from engine.models import Membership, Project

        call_command("migrate", verbosity=0)
        user = get_user_model().objects.create_user("bench", password=secrets.token_hex(8))
        project = Project.objects.create(name="Bench", timezone="UTC")
        Membership.objects.create(project=project, user=user, role=Membership.Role.ADMIN)
        profiles = max(2 * args.users, args.fair) if "a" in parts else 0
        profiles = max(profiles, args.users if "b" in parts else 0, D_USERS if "d" in parts else 0)
        t0 = time.perf_counter()
        create_profiles(project.pk, profiles)
        analyze()
        print(
            f"bench/engine.py: PostgreSQL {bench_db}, Redis {redis_url}, {os.cpu_count()} CPUs; "
            f"{profiles:,} profiles in {time.perf_counter() - t0:.1f}s; logs in {tmp}"
        )
        ctx = {"project": project, "user": user, "bench": bench, "redis_url": redis_url}
        if "a" in parts:
            part_a(ctx, args.users, args.fair)
        if "b" in parts:
            part_b(ctx, args.users)
        if "c" in parts:
            part_c(ctx)
        if "d" in parts:
            part_d(ctx)
        print(f"\ndone in {time.perf_counter() - began:.0f}s; {load()}")
    finally:
        bench.stop_all()
        from django.db import connections

        connections.close_all()
        flush_redis(redis_url)
        if not args.keep:
            recreate_database(admin_url, bench_db, drop_only=True)


if __name__ == "__main__":
    main()
