"""Ingest benchmark: events/s through the real web server vs. a COPY of the same rows.

Run against a PostgreSQL server (the benchmark creates, migrates and drops its own
database on it, ``journeys_bench`` by default; nothing else is touched)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/ingest.py \
        [--events 100000] [--threads 4] [--during-journey-start helper_g_1m]

1. Starts the product's web server (``journeys_site.webserver``: daphne processes on one
   socket, as ``manage.py serve`` does) on 127.0.0.1 with the bench database.
2. Sends N events in 1,000-event batches from several client threads (httpx, one
   keep-alive connection per thread). Each event has a unique client ``id``, ~10
   properties and one of ~200 profile ids. Measures accepted events/s end to end and
   checks every event was stored once.
3. COPYs the same rows (the same events, decoded from the same bodies, as prepared COPY
   text, the way ``psql \\copy`` reads a file) into the events table for another project
   with ``cursor.copy``, and measures rows/s: the floor ingest is compared with.
4. Steps 2 and 3 run ``--rounds`` times (3; each round with new client ids), one after
   the other, so each round's ratio compares HTTP and COPY in the same minutes; the
   median round counts (one round's ratio swings with whatever else the two cores do).
5. Prints the rounds, the median's figures, the ratio HTTP/COPY and ``BENCH`` rows.
   Goal: >= 0.8 of COPY.

``--during-journey-start DB``: afterwards, on DB (a kept database filled by
``generate_data``, e.g. 1M profiles / 20M events; its newest project), starts a Past
Behaviour journey over the whole project (bench/segments.py's ``entry``, in its own
process) and measures ingest through the web server into that database while the
journey starts. Goal: >= 5,000 events/s. The journey and the events stay in DB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import httpx
import psycopg
from common import bench_row, conninfo, free_port, recreate_database, with_db  # bench/common.py

ROOT = Path(__file__).resolve().parent.parent
BATCH = 1000
PROFILES = 200
GOAL_RATIO = 0.8
GOAL_DURING_START = 5_000
BASELINE_REQUESTS = 60  # 1,000-event requests in the no-journey baseline


def fail(message: str) -> None:
    print(f"bench/ingest.py: {message}", file=sys.stderr)
    sys.exit(2)


def make_events(count: int, seed: int = 7) -> list[bytes]:
    """Pre-serialised request bodies, so the clients spend their time waiting on the server."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    names = ["Page Viewed", "Added To Cart", "Charged", "Video Watched", "Searched"]
    bodies: list[bytes] = []
    for start in range(0, count, BATCH):
        events = []
        for i in range(start, min(start + BATCH, count)):
            events.append(
                {
                    "id": str(uuid.UUID(int=rng.getrandbits(128))),
                    "profile_id": f"bench-{rng.randrange(PROFILES)}",
                    "name": rng.choice(names),
                    "ts": (now - timedelta(seconds=rng.randrange(86_400))).isoformat(),
                    "properties": {
                        "item": rng.choice(["Red Nike Shoes", "Running Socks", "Trail Jacket"]),
                        "price": rng.choice([15, 25, 120, 180]),
                        "quantity": rng.randint(1, 4),
                        "currency": "USD",
                        "url": f"https://shop.example.com/p/{rng.randrange(500)}",
                        "referrer": "https://www.google.com/",
                        "session_id": f"s-{rng.randrange(10_000)}",
                        "logged_in": rng.random() < 0.5,
                        "discount": round(rng.random(), 2),
                        "seq": i,
                    },
                }
            )
        bodies.append(json.dumps({"events": events}).encode())
    return bodies


def setup_django(bench_url: str, var_dir: str) -> None:
    os.environ["DATABASE_URL"] = bench_url
    os.environ["JOURNEYS_VAR_DIR"] = var_dir
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "journeys_site.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def start_daphne(port: int, env: dict[str, str], processes: int) -> list[subprocess.Popen[bytes]]:
    """``processes`` daphne processes on one listening socket, the way ``make run`` serves."""
    from journeys_site import webserver

    sock = webserver.listening_socket("127.0.0.1", port)
    servers = [
        webserver.start_daphne(
            sock, env=env, cwd=ROOT, verbosity=0, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for _ in range(processes)
    ]
    sock.close()  # the children hold it
    return servers


def stop(servers: list[subprocess.Popen[bytes]]) -> None:
    for server in servers:
        server.terminate()
    for server in servers:
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def wait_until_up(base: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            err = server.stderr.read().decode() if server.stderr else ""
            fail(f"daphne exited with {server.returncode}:\n{err}")
        try:
            httpx.get(f"{base}/healthz", timeout=2)  # 503 without a worker is fine: it answers
            return
        except httpx.TransportError:
            time.sleep(0.2)
    fail("daphne did not answer within 60 s")


def send_all(base: str, key: str, bodies: list[bytes], threads: int) -> tuple[float, int, int]:
    queue = list(reversed(bodies))
    lock = threading.Lock()
    totals = {"accepted": 0, "duplicates": 0}
    errors: list[str] = []
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def client() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
            while True:
                with lock:
                    if not queue or errors:
                        return
                    body = queue.pop()
                response = http.post("/api/v1/events", content=body)
                if response.status_code != 202:
                    with lock:
                        errors.append(f"{response.status_code}: {response.text[:300]}")
                    return
                data = response.json()
                with lock:
                    totals["accepted"] += data["accepted"]
                    totals["duplicates"] += data["duplicates"]

    workers = [threading.Thread(target=client) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if errors:
        fail(f"ingest failed: {errors[0]}")
    return elapsed, totals["accepted"], totals["duplicates"]


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds each process has used so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return out


def backend_pids(url: str) -> list[int]:
    """The PostgreSQL server processes connected to the database of ``url`` (but this one)."""
    with psycopg.connect(conninfo(url)) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
    return [row[0] for row in rows]


class CpuMeter:
    """CPU seconds used by the web server processes and by PostgreSQL's backends for one
    database between ``start`` and ``stop``: a cost per event that the other work on the
    machine does not change much, unlike a rate (the machine has two shared cores)."""

    def __init__(self, url: str, servers: list[subprocess.Popen[bytes]]) -> None:
        self.url = url
        self.servers = [server.pid for server in servers]

    def start(self) -> None:
        self.web = cpu_seconds(self.servers)
        self.db = cpu_seconds(backend_pids(self.url))

    def stop(self) -> tuple[float, float]:
        web = cpu_seconds(self.servers)
        db = cpu_seconds(backend_pids(self.url))
        # Each web process's share: a process that took more of the connections than the
        # other is the bottleneck while the other idles.
        self.by_process = [web[pid] - self.web.get(pid, 0.0) for pid in web]
        return (
            sum(web[pid] - self.web.get(pid, 0.0) for pid in web),
            sum(db[pid] - self.db.get(pid, 0.0) for pid in db),
        )


def copy_text(bodies: list[bytes], project_id: int, profile_ids: dict[str, int]) -> str:
    """The same events as COPY text lines (prepared before the clock starts, like a file)."""
    received = datetime.now(UTC).isoformat()
    lines = []
    for body in bodies:
        for event in json.loads(body)["events"]:
            properties = json.dumps(event["properties"])
            assert not any(c in properties for c in "\\\t\n\r"), "needs COPY escaping"
            lines.append(
                f"{project_id}\t{profile_ids[event['profile_id']]}\t{event['name']}\t"
                f"{event['ts']}\t{properties}\t{event['id']}\t{received}\n"
            )
    return "".join(lines)


def make_copy_profiles(bench_url: str, project_id: int) -> dict[str, int]:
    """The COPY baseline's profiles (the events name them by external id): external id -> id."""
    with psycopg.connect(conninfo(bench_url)) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO engine_profile (project_id, external_id, email, phone, timezone,"
            " properties, push_tokens, created_at, updated_at)"
            " SELECT %s, 'bench-' || g, '', '', '', '{}', '[]', now(), now()"
            " FROM generate_series(0, %s) AS g RETURNING external_id, id",
            (project_id, PROFILES - 1),
        )
        return dict(cur.fetchall())


def copy_rows(
    bench_url: str, project_id: int, profile_ids: dict[str, int], bodies: list[bytes]
) -> tuple[float, float]:
    """COPY the same rows into engine_event for another project; seconds spent in COPY and
    the CPU seconds its server process used (the client only streams prepared text)."""
    with psycopg.connect(conninfo(bench_url)) as conn:
        text = copy_text(bodies, project_id, profile_ids)
        backend = conn.info.backend_pid
        cpu_before = cpu_seconds([backend])[backend]
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY engine_event (project_id, profile_id, name, ts, properties, client_id,"
                " received_at) FROM STDIN"
            ) as copy,
        ):
            for start in range(0, len(text), 1 << 20):
                copy.write(text[start : start + (1 << 20)])
        conn.commit()
        elapsed = time.perf_counter() - started
        return elapsed, cpu_seconds([backend])[backend] - cpu_before


def profile_in_process(key: str, bodies: list[bytes], top: int = 30) -> None:
    """cProfile the whole Django request path in this process (test client, no network)."""
    import cProfile
    import pstats

    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    warm = client.post("/api/v1/events", bodies[0], content_type="application/json")
    assert warm.status_code == 202, warm.content[:300]
    # Half the batches without the profiler: this process's CPU per request, a figure the
    # shared machine's load moves less than the web server's (same path, no network).
    half = (len(bodies) - 1) // 2
    unprofiled, bodies = bodies[1 : 1 + half], bodies[1 + half :]
    cpu = time.process_time()
    for body in unprofiled:
        response = client.post("/api/v1/events", body, content_type="application/json")
        assert response.status_code == 202, response.content[:300]
    cpu = time.process_time() - cpu
    print(
        f"In-process CPU per {BATCH:,}-event request (no profiler): "
        f"{cpu / len(unprofiled) * 1000:.1f} ms over {len(unprofiled)} requests"
    )
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for body in bodies:
        response = client.post("/api/v1/events", body, content_type="application/json")
        assert response.status_code == 202, response.content[:300]
    profiler.disable()
    elapsed = time.perf_counter() - started
    print(
        f"In-process (profiled, cProfile overhead included): "
        f"{len(bodies) * BATCH / elapsed:,.0f} events/s"
    )
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=4, choices=range(1, 9))
    parser.add_argument(
        "--rounds", type=int, default=3, help="HTTP then COPY rounds; the median ratio counts"
    )
    parser.add_argument(
        "--web-processes", type=int, default=2, help="daphne processes on one socket (make run: 2)"
    )
    parser.add_argument("--database", default="journeys_bench", help="scratch database name")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--during-journey-start",
        metavar="DB",
        help="also measure ingest into DB (filled by generate_data) while a journey starts",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also time 20 batches through the view in-process (CPU per request), then cProfile "
        "20 more and print where time goes",
    )
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    if urlparse(database_url).scheme not in {"postgres", "postgresql"}:
        fail("needs DATABASE_URL=postgres://... (the benchmark measures PostgreSQL)")
    admin_url = with_db(database_url, "postgres")
    bench_url = with_db(database_url, args.database)

    print(f"Creating database {args.database!r} and migrating ...", flush=True)
    recreate_database(admin_url, args.database)
    servers: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="journeys-bench-") as var_dir:
            setup_django(bench_url, var_dir)
            from django.core.management import call_command
            from django.db import connection

            from engine.models import Event, Project

            call_command("migrate", verbosity=0, interactive=False)
            api_project = Project.objects.create(name="bench-api")
            copy_project = Project.objects.create(name="bench-copy")
            connection.close()

            bodies = make_events(args.events)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            env = {**os.environ, "DATABASE_URL": bench_url, "JOURNEYS_VAR_DIR": var_dir}
            servers = start_daphne(port, env, args.web_processes)
            for one in servers:
                wait_until_up(base, one)
            # Warm-up (not counted): imports, connections, caches, in every web process
            # (a few batches from every client thread, each on its own connection).
            warm = make_events(BATCH * 2 * args.threads, seed=99)
            send_all(base, api_project.ingest_key, warm, args.threads)
            copy_profiles = make_copy_profiles(bench_url, copy_project.pk)

            # Rounds, HTTP then COPY of the same rows, in the same minutes: the ratio of
            # each round, and their median (one round's ratio swings with whatever else
            # the two cores are doing at that moment).
            http_rates, copy_rates, ratios = [], [], []
            http_cpu, copy_cpu_total = [], []
            for number in range(args.rounds):
                batch_bodies = bodies if number == 0 else fresh_ids(bodies)
                meter = CpuMeter(bench_url, servers)
                meter.start()
                seconds, accepted, duplicates = send_all(
                    base, api_project.ingest_key, batch_bodies, args.threads
                )
                web_cpu, db_cpu = meter.stop()
                if accepted != args.events or duplicates:
                    fail(f"round {number + 1}: accepted {accepted}, duplicates {duplicates}")
                copy_seconds, copy_cpu = copy_rows(
                    bench_url, copy_project.pk, copy_profiles, batch_bodies
                )
                http_rates.append(args.events / seconds)
                copy_rates.append(args.events / copy_seconds)
                ratios.append(http_rates[-1] / copy_rates[-1])
                http_cpu.append((web_cpu, db_cpu))
                copy_cpu_total.append(copy_cpu)
                print(
                    f"  round {number + 1}: HTTP {http_rates[-1]:,.0f} events/s, COPY"
                    f" {copy_rates[-1]:,.0f} rows/s, ratio {ratios[-1]:.3f}; web CPU by"
                    " process " + ", ".join(f"{c:.2f} s" for c in meter.by_process),
                    flush=True,
                )
            stored = Event.objects.filter(project=api_project).count() - len(warm) * BATCH
            connection.close()
            if stored != args.events * args.rounds:
                fail(f"stored {stored}, expected {args.events * args.rounds}")

            if args.profile:
                profile_project = Project.objects.create(name="bench-profile")
                profile_in_process(profile_project.ingest_key, make_events(41 * BATCH, seed=5))
                connection.close()
    finally:
        stop(servers)
        if not args.keep:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:
                pass
            recreate_database(admin_url, args.database, drop_only=True)

    middle = sorted(range(args.rounds), key=lambda i: ratios[i])[args.rounds // 2]
    ratio = ratios[middle]
    api_rate, copy_rate = http_rates[middle], copy_rates[middle]
    web_cpu, db_cpu = http_cpu[middle]
    copy_cpu = copy_cpu_total[middle]
    print()
    print(
        f"Median round of {args.rounds} (by ratio); HTTP ingest ({args.web_processes} daphne,"
        f" {args.threads} client threads): {api_rate:>10,.0f} events/s"
    )
    print(f"PostgreSQL COPY of the same rows:            {copy_rate:>10,.0f} rows/s")
    print(
        f"Ratio HTTP/COPY: {ratio:.3f} (goal >= {GOAL_RATIO}); rounds: "
        + ", ".join(f"{r:.3f}" for r in ratios)
    )
    per = 1000 / args.events * 1000  # ms per 1,000 events
    print(
        f"CPU per 1,000 events: HTTP {(web_cpu + db_cpu) * per:.0f} ms (web processes "
        f"{web_cpu * per:.0f} ms + PostgreSQL {db_cpu * per:.0f} ms); "
        f"COPY {copy_cpu * per:.0f} ms (PostgreSQL); ratio COPY/HTTP {copy_cpu / (web_cpu + db_cpu):.2f}"
    )
    bench_row(
        f"ingest: HTTP ingest, events/s, median of {args.rounds} rounds"
        " (baseline: COPY of the same rows in the same round, rows/s)",
        f"{api_rate:,.0f}",
        f"{copy_rate:,.0f}",
        f"{ratio:.2f}",
        f">= {GOAL_RATIO} of COPY",
    )
    bench_row(
        "ingest: CPU ms per 1,000 events, HTTP (web + PostgreSQL) (baseline: COPY's server)",
        f"{(web_cpu + db_cpu) * per:.0f}",
        f"{copy_cpu * per:.0f}",
        f"{(web_cpu + db_cpu) / copy_cpu:.2f}",
        "",
    )
    if args.during_journey_start:
        during_journey_start(database_url, args)


# The journey start of bench/segments.py, in its own process on the filled database.
JOURNEY_START = """
import os, sys, django
sys.path.insert(0, 'bench')
django.setup()
from django.utils import timezone
from engine.models import Project
import segments
segments.entry(Project.objects.order_by('-id').first(), timezone.now(), label=' (while HTTP ingest runs)')
"""


def during_journey_start(database_url: str, args: argparse.Namespace) -> None:
    """Ingest through the web server into a filled database while a journey over its
    newest project starts (evaluation and enrollment of every qualifying user)."""
    url = with_db(database_url, args.during_journey_start)
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "journeys_site.settings"}
    env.pop("REDIS_URL", None)
    with psycopg.connect(conninfo(url)) as conn:
        row = conn.execute(
            "SELECT id, ingest_key FROM engine_project ORDER BY id DESC LIMIT 1"
        ).fetchone()
    if row is None:
        fail(f"{args.during_journey_start}: no project (fill it with generate_data first)")
    _project_id, key = row
    bodies = make_events(args.events, seed=31)
    servers: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="journeys-bench-") as var_dir:
        env["JOURNEYS_VAR_DIR"] = var_dir
        try:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            servers = start_daphne(port, env, args.web_processes)
            for one in servers:
                wait_until_up(base, one)
            # Baseline in the same minutes: the same ingest into the same database with
            # no journey starting (the first rounds also warm the server up).
            send_all(base, key, fresh_ids(bodies[:4]), args.threads)
            quiet = fresh_ids(bodies[: BASELINE_REQUESTS // 2]) + fresh_ids(
                bodies[: BASELINE_REQUESTS // 2]
            )
            quiet_seconds, quiet_sent, _dups = send_all(base, key, quiet, args.threads)
            quiet_rate = quiet_sent / quiet_seconds
            print(
                f"\nIngest into {args.during_journey_start!r} with no journey starting: "
                f"{quiet_rate:,.0f} events/s ({quiet_sent:,} in {quiet_seconds:.1f} s)",
                flush=True,
            )
            print(
                f"Starting a Past Behaviour journey on {args.during_journey_start!r} "
                "and ingesting meanwhile ...",
                flush=True,
            )
            starter = subprocess.Popen(
                [sys.executable, "-c", JOURNEY_START], cwd=ROOT, env=env, text=True
            )
            sent = 0
            started = time.perf_counter()
            # Rounds of 20 requests until the journey has started (at least one round).
            position = 0
            while True:
                if position >= len(bodies):
                    bodies, position = fresh_ids(bodies), 0
                chunk = bodies[position : position + 20]
                position += 20
                _seconds, accepted, _dups = send_all(base, key, chunk, args.threads)
                sent += accepted
                if starter.poll() is not None:
                    break
            elapsed = time.perf_counter() - started
            if starter.returncode:
                fail(f"the journey start failed (exit {starter.returncode})")
        finally:
            stop(servers)
    rate = sent / elapsed
    print(f"Ingest while the journey started: {rate:,.0f} events/s ({sent:,} in {elapsed:.1f} s)")
    bench_row(
        f"ingest: HTTP ingest while a journey starts on {args.during_journey_start}, events/s"
        " (baseline: the same ingest just before, no journey starting)",
        f"{rate:,.0f}",
        f"{quiet_rate:,.0f}",
        f"{rate / quiet_rate:.2f}",
        f">= {GOAL_DURING_START:,}/s",
    )


def fresh_ids(bodies: list[bytes]) -> list[bytes]:
    """The same bodies with new client ids (so a second round is not all duplicates)."""
    out = []
    for body in bodies:
        payload = json.loads(body)
        for event in payload["events"]:
            event["id"] = str(uuid.uuid4())
        out.append(json.dumps(payload).encode())
    return out


if __name__ == "__main__":
    main()
