"""Stats benchmark: the stats endpoints on a journey with 1M enrollments and 10M steps, and
200 websocket viewers of the live overlay.

Run against PostgreSQL (the benchmark creates, migrates and drops its own database
``journeys_bench_stats``)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/stats.py \
        [--enrollments 1000000] [--steps-per 10] [--requests 40] [--viewers 200] [--keep]

(a) Data: profiles, enrollments (spread over the last 30 days; 5 % still active at a block,
    the rest exited by goal met / time out / completed) and steps (``--steps-per`` a stay),
    each table filled by one ``INSERT ... SELECT generate_series``, then VACUUM ANALYZE.
(b) p50 / p95 / max of ``GET /api/v1/journeys/<id>/stats`` (all time, last 30 days, one
    day), ``/summary``, ``/series`` and ``/stuck`` over HTTP (daphne, token auth), after one
    warm-up request each. Goal: stats p95 < 300 ms.
(c) ``--viewers`` websockets on ``/ws/journeys/<id>/`` (aiohttp client, token auth) all get
    their first message; then 100 active users move to another block in one committed
    UPDATE, and the seconds until every viewer got the new figures. Goal: all within 2 s,
    none dropped.

Every process it starts listens on 127.0.0.1 only and is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from common import bench_row, free_port, recreate_database, with_db  # bench/common.py

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "journeys_bench_stats"
GOAL_P95_MS = 300
NODES = ("entry", "push1", "opened", "mail")
DEFINITION: dict[str, Any] = {
    "settings": {"conversion_time": "P1D"},
    "entry": {"id": "entry", "type": "action", "event": "Added To Cart"},
    "nodes": [
        {"id": "push1", "type": "push", "title": "Still there?", "body": "Hi"},
        {"id": "opened", "type": "action", "event": "Opened App", "within": "PT2H"},
        {"id": "mail", "type": "email", "subject": "10% off", "html": "<p>Hi</p>"},
    ],
    "edges": [
        {"from": "entry", "to": "push1"},
        {"from": "push1", "to": "opened"},
        {"from": "opened", "to": "mail", "branch": "yes"},
    ],
    "goals": [{"id": "bought", "type": "action", "event": "Charged"}],
}


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeys_site.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def generate(enrollments: int, steps_per: int) -> tuple[int, str]:
    """The journey, its data, and an API token of a member; returns (journey id, token)."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from accounts.services import token_issue
    from builder import services as builder_services
    from engine.models import Membership, Project

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    project = Project.objects.create(name="Bench")
    Membership.objects.create(project=project, user=user, role=Membership.Role.ADMIN)
    draft = builder_services.journey_create(
        project=project, user=user, name="Big", definition=DEFINITION
    )
    journey = builder_services.journey_publish(journey=draft, user=user)
    assert journey.live_version_id is not None
    token = token_issue(user=user, name="bench")[1]
    params = {
        "n": enrollments,
        "project": project.pk,
        "journey": journey.pk,
        "version": journey.live_version_id,
        "per": steps_per,
    }
    with connection.cursor() as cur:
        started = time.monotonic()
        cur.execute(
            """INSERT INTO engine_profile (project_id, external_id, email, phone, timezone,
                   properties, push_tokens, anonymous, created_at, updated_at)
               SELECT %(project)s, 'p' || g, '', '', '', '{}', '[]', false, now(), now()
               FROM generate_series(1, %(n)s) g""",
            params,
        )
        print(f"  profiles: {enrollments:,} in {time.monotonic() - started:.1f} s", flush=True)
        started = time.monotonic()
        # g % 20 = 0: still active (waiting at a block); else exited for a reason by g % 3.
        cur.execute(
            """INSERT INTO engine_enrollment (project_id, journey_id, version_id, profile_id,
                   state, node, node_state, visit, revision, entry_number, entered_at,
                   node_entered_at, exited_at, exit_reason, exit_node, context, deadline)
               SELECT %(project)s, %(journey)s, %(version)s, p.id,
                   CASE WHEN p.g %% 20 = 0 THEN 'active' ELSE 'exited' END,
                   (ARRAY['entry','push1','opened','mail'])[1 + (p.g / 20) %% 4],
                   CASE WHEN p.g %% 20 = 0 THEN 'waiting' ELSE 'done' END, 1, 0, 1,
                   t.entered, t.entered + interval '1 hour',
                   CASE WHEN p.g %% 20 = 0 THEN NULL ELSE t.entered + interval '3 hours' END,
                   CASE WHEN p.g %% 20 = 0 THEN ''
                        ELSE (ARRAY['goal_met','time_out','completed'])[1 + p.g %% 3] END,
                   CASE WHEN p.g %% 20 = 0 THEN ''
                        ELSE (ARRAY['entry','push1','opened','mail'])[1 + p.g %% 4] END,
                   '{}', t.entered + interval '1 day'
               FROM (SELECT id, row_number() OVER (ORDER BY id) AS g
                     FROM engine_profile WHERE project_id = %(project)s) p,
                    LATERAL (SELECT now() - (p.g %% 2592000) * interval '1 second'
                             AS entered) t""",
            params,
        )
        print(f"  enrollments: {enrollments:,} in {time.monotonic() - started:.1f} s", flush=True)
        started = time.monotonic()
        cur.execute(
            """INSERT INTO engine_step (enrollment_id, journey_id, version_number, profile_id,
                   node, visit, entered_at, left_at, outcome, branch, detail)
               SELECT e.id, e.journey_id, 1, e.profile_id,
                   (ARRAY['entry','push1','opened','mail'])[1 + s %% 4], 1 + s / 4,
                   e.entered_at + s * interval '1 minute',
                   e.entered_at + (s + 1) * interval '1 minute',
                   CASE WHEN s %% 4 = 2 THEN (CASE WHEN e.id %% 2 = 0 THEN 'yes' ELSE 'no' END)
                        ELSE 'next' END,
                   CASE WHEN s %% 4 = 2 THEN (CASE WHEN e.id %% 2 = 0 THEN 'yes' ELSE 'no' END)
                        ELSE '' END,
                   '{}'
               FROM engine_enrollment e, generate_series(0, %(per)s - 1) s
               WHERE e.journey_id = %(journey)s""",
            params,
        )
        print(
            f"  steps: {enrollments * steps_per:,} in {time.monotonic() - started:.1f} s",
            flush=True,
        )
        # As autovacuum would after a bulk load: statistics and the visibility map (so that
        # counts can be answered from partial indexes without reading the table).
        for table in ("engine_profile", "engine_enrollment", "engine_step"):
            cur.execute(f"VACUUM ANALYZE {table}")
    return journey.pk, token


def start_server(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="journeys_site.settings",
        PYTHONUNBUFFERED="1",
        JOURNEYS_VAR_DIR=str(log.parent / "var"),
    )
    with log.open("wb") as out:
        return subprocess.Popen(
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
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_up(base: str, journey: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"daphne exited:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"{base}/api/v1/journeys/{journey}/occupancy", timeout=2)
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"daphne not up:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.2)


def timed_get(url: str, token: str) -> float:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
        assert response.status == 200, response.status
    return (time.perf_counter() - started) * 1000


def endpoints(base: str, journey: int, token: str, n: int) -> None:
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()
    cases = {
        "stats, all time": "stats",
        "stats, last 30 days": f"stats?from={today - timedelta(days=29)}&to={today}",
        "stats, one day": f"stats?from={today - timedelta(days=3)}&to={today - timedelta(days=3)}",
        "summary, all time": "summary",
        "series, 30 days": f"series?from={today - timedelta(days=29)}&to={today}",
        "stuck": "stuck",
        "occupancy": "occupancy",
    }
    print(f"(b) endpoints, {n} requests each (ms):")
    for name, path in cases.items():
        url = f"{base}/api/v1/journeys/{journey}/{path}"
        timed_get(url, token)  # warm-up
        times = sorted(timed_get(url, token) for _ in range(n))
        p95 = times[max(0, int(len(times) * 0.95) - 1)]
        print(
            f"  {name:22} p50 {statistics.median(times):7.1f}  p95 {p95:7.1f}"
            f"  max {times[-1]:7.1f}",
            flush=True,
        )
        goal = f"p95 < {GOAL_P95_MS} ms" if name.startswith("stats") else ""
        bench_row(
            f"stats: {name}, p95 ms", f"{p95:.0f}", f"p50 {statistics.median(times):.0f}", "", goal
        )


async def viewers(base: str, journey: int, token: str, count: int, url: str) -> None:
    import aiohttp
    import psycopg
    from common import conninfo

    ws_url = base.replace("http://", "ws://") + f"/ws/journeys/{journey}/?token={token}"
    first: list[asyncio.Future[dict[str, Any]]] = []
    second: list[asyncio.Future[float]] = []
    dropped = 0
    loop = asyncio.get_running_loop()

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        nonlocal dropped
        try:
            async with session.ws_connect(ws_url, heartbeat=None) as ws:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    if not first[i].done():
                        first[i].set_result(msg.json())
                    elif not second[i].done():
                        second[i].set_result(time.monotonic())
                        return
        except Exception:
            dropped += 1
        for f in (first[i], second[i]):
            if not f.done():
                f.cancel()

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        first = [loop.create_future() for _ in range(count)]
        second = [loop.create_future() for _ in range(count)]
        started = time.monotonic()
        tasks = [asyncio.create_task(one(session, i)) for i in range(count)]
        got = await asyncio.gather(*first, return_exceptions=True)
        ok = [g for g in got if isinstance(g, dict)]
        print(
            f"(c) {len(ok)}/{count} viewers connected and got occupancy in "
            f"{time.monotonic() - started:.2f} s (total {ok[0]['total'] if ok else '?'})",
            flush=True,
        )
        with psycopg.connect(conninfo(url), autocommit=True) as conn:
            changed_at = time.monotonic()
            conn.execute(
                """UPDATE engine_enrollment SET node = 'mail' WHERE id IN (
                       SELECT id FROM engine_enrollment WHERE journey_id = %s
                       AND state = 'active' AND node = 'opened' LIMIT 100)""",
                (journey,),
            )
        arrived = await asyncio.gather(
            *(asyncio.wait_for(asyncio.shield(f), 10) for f in second), return_exceptions=True
        )
        delays = sorted(a - changed_at for a in arrived if isinstance(a, float))
        missing = count - len(delays)
        if delays:
            bench_row(
                f"stats: {count} viewers updated after a change, max s",
                f"{delays[-1]:.2f}",
                f"p50 {statistics.median(delays):.2f}",
                "",
                f"all within 2 s (missed {missing}, dropped {dropped})",
            )
            print(
                f"    after a change: {len(delays)}/{count} updated; p50 "
                f"{statistics.median(delays):.2f} s, max {delays[-1]:.2f} s; "
                f"{missing} missed, {dropped} dropped; all within 2 s: "
                f"{missing == 0 and delays[-1] < 2}",
                flush=True,
            )
        else:
            print(f"    after a change: nobody updated ({dropped} dropped)")
            bench_row(
                f"stats: {count} viewers updated after a change", "none", "", "", "all within 2 s"
            )
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enrollments", type=int, default=1_000_000)
    parser.add_argument("--steps-per", type=int, default=10)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="reuse the data of a --keep run (no generation)"
    )
    args = parser.parse_args()
    admin = os.environ.get("DATABASE_URL", "")
    if not admin.startswith(("postgres://", "postgresql://")):
        raise SystemExit("Set DATABASE_URL=postgres://... (a server where databases can be made)")
    url = with_db(admin, BENCH_DB)
    if not args.reuse:
        recreate_database(admin, BENCH_DB)
    setup_django(url)
    print(
        f"(a) data: {args.enrollments:,} enrollments, {args.enrollments * args.steps_per:,} steps"
    )
    if args.reuse:
        from accounts.services import token_issue
        from builder.models import Journey

        journey_obj = Journey.objects.get(name="Big")
        journey = journey_obj.pk
        token = token_issue(user=journey_obj.created_by, name="bench")[1]  # type: ignore[attr-defined]
    else:
        journey, token = generate(args.enrollments, args.steps_per)
    from django.db import connections

    connections.close_all()
    port = free_port()
    log = Path(f"/tmp/bench-stats-daphne-{port}.log")
    proc = start_server(url, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(base, journey, proc, log)
        endpoints(base, journey, token, args.requests)
        asyncio.run(viewers(base, journey, token, args.viewers, url))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        if not args.keep:
            recreate_database(admin, BENCH_DB, drop_only=True)


if __name__ == "__main__":
    main()
