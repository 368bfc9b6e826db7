"""Ingest benchmark: events/s through the real ASGI app (daphne) vs. rows/s with COPY.

Run against a PostgreSQL server (the benchmark creates, migrates and drops its own
database on it, ``journeys_bench`` by default; nothing else is touched)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/ingest.py \
        [--events 100000] [--threads 4]

1. Starts ``daphne journeys_site.asgi:application`` (one process, the way ``make run``
   serves the web app) on 127.0.0.1 with the bench database, and a fresh project.
2. Sends N events in 1,000-event batches from several client threads (httpx, one
   keep-alive connection per thread). Each event has a unique client ``id``, ~10
   properties and one of ~200 profile ids. Measures accepted events/s end to end and
   checks every event was stored once.
3. Loads the same number of rows into the events table of a fresh project with
   PostgreSQL ``COPY`` (psycopg ``cursor.copy``) and measures rows/s: the ceiling.
4. Prints both figures and the ratio API/COPY. Goals: >= 10,000 events/s, >= 0.1 of COPY.
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
from common import conninfo, free_port, recreate_database, with_db  # bench/common.py

ROOT = Path(__file__).resolve().parent.parent
BATCH = 1000
PROFILES = 200
GOAL_EVENTS_PER_S = 10_000
GOAL_RATIO = 0.1


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


def copy_rows(bench_url: str, project_id: int, count: int) -> float:
    """COPY the same shape of rows into engine_event; returns seconds spent in COPY."""
    rng = random.Random(11)
    now = datetime.now(UTC)
    with psycopg.connect(conninfo(bench_url)) as conn:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO engine_profile (project_id, external_id, email, phone, timezone,"
                " properties, push_tokens, created_at, updated_at)"
                " SELECT %s, 'copy-' || g, '', '', '', '{}', '[]', now(), now()"
                " FROM generate_series(0, %s) AS g RETURNING id",
                (project_id, PROFILES - 1),
            )
            profile_ids = [row[0] for row in cur.fetchall()]
        conn.commit()
        rows = [
            (
                project_id,
                rng.choice(profile_ids),
                "Added To Cart",
                now - timedelta(seconds=rng.randrange(86_400)),
                json.dumps(
                    {
                        "item": "Red Nike Shoes",
                        "price": 120,
                        "quantity": 2,
                        "currency": "USD",
                        "url": f"https://shop.example.com/p/{i % 500}",
                        "referrer": "https://www.google.com/",
                        "session_id": f"s-{i % 10_000}",
                        "logged_in": True,
                        "discount": 0.1,
                        "seq": i,
                    }
                ),
                str(uuid.UUID(int=rng.getrandbits(128))),
                now,
            )
            for i in range(count)
        ]
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY engine_event (project_id, profile_id, name, ts, properties, client_id,"
                " received_at) FROM STDIN"
            ) as copy,
        ):
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return time.perf_counter() - started


def profile_in_process(key: str, bodies: list[bytes], top: int = 30) -> None:
    """cProfile the whole Django request path in this process (test client, no network)."""
    import cProfile
    import pstats

    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    warm = client.post("/api/v1/events", bodies[0], content_type="application/json")
    assert warm.status_code == 202, warm.content[:300]
    bodies = bodies[1:]
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
        "--web-processes", type=int, default=2, help="daphne processes on one socket (make run: 2)"
    )
    parser.add_argument("--database", default="journeys_bench", help="scratch database name")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also cProfile 10 batches through the view in-process and print where time goes",
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
            # One warm-up batch (not counted): imports, connections, caches.
            warm = make_events(BATCH, seed=99)[0]
            httpx.post(
                f"{base}/api/v1/events",
                content=warm,
                headers={
                    "Authorization": f"Bearer {api_project.ingest_key}",
                    "Content-Type": "application/json",
                },
                timeout=60,
            ).raise_for_status()

            print(
                f"Sending {args.events:,} events in {len(bodies)} batches of {BATCH} from "
                f"{args.threads} threads to {args.web_processes} daphne process(es) on {base} ...",
                flush=True,
            )
            seconds, accepted, duplicates = send_all(
                base, api_project.ingest_key, bodies, args.threads
            )
            stored = Event.objects.filter(project=api_project).count() - BATCH
            connection.close()
            if accepted != args.events or duplicates or stored != args.events:
                fail(f"accepted {accepted}, duplicates {duplicates}, stored {stored}")
            api_rate = args.events / seconds

            if args.profile:
                profile_project = Project.objects.create(name="bench-profile")
                profile_in_process(profile_project.ingest_key, make_events(11 * BATCH, seed=5))
                connection.close()

            print(f"COPYing {args.events:,} rows into engine_event ...", flush=True)
            copy_seconds = copy_rows(bench_url, copy_project.pk, args.events)
            copy_rate = args.events / copy_seconds
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.keep:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:
                pass
            recreate_database(admin_url, args.database, drop_only=True)

    ratio = api_rate / copy_rate
    print()
    print(
        f"API ingest ({args.web_processes} daphne, {args.threads} client threads): {api_rate:>10,.0f} events/s "
        f"({args.events:,} in {seconds:.2f} s)"
    )
    print(
        f"PostgreSQL COPY:                          {copy_rate:>10,.0f} rows/s "
        f"({args.events:,} in {copy_seconds:.2f} s)"
    )
    print(f"Ratio API/COPY: {ratio:.3f}")
    print(
        f"Goals: >= {GOAL_EVENTS_PER_S:,} events/s: {'met' if api_rate >= GOAL_EVENTS_PER_S else 'NOT met'}; "
        f">= {GOAL_RATIO} of COPY: {'met' if ratio >= GOAL_RATIO else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
