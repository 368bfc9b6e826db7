"""Segments benchmark: whole-project past-behaviour conditions vs. the hand-written query.

Run against a PostgreSQL server (the benchmark creates, migrates, fills and drops its own
database, ``journeys_bench_segments`` by default; nothing else is touched)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/segments.py \
        [--profiles 20000] [--events 400000] [--days 60] [--keep] [--reuse]

1. Fills the database with ``manage.py generate_data`` (power-law activity, 20 event
   names), unless ``--reuse`` finds it already filled by a ``--keep`` run.
2. For each condition of issue 12 over the whole project -
   (a) did Video Watched and did not Subscription Paid in 30 days,
   (b) sum of Charged amount >= 300 in 7 days,
   (c) count of Video Watched >= 3 in 30 days -
   times ``engine.segments.qualifying_ids`` (the statement, the fetch and Python), its
   first run after the load ("first") and the best of three after it ("warm"), beside the
   hand-written ``GROUP BY profile_id ... HAVING`` over the same rows (the baseline) and
   the same query forced onto a sequential scan of the events table, in the same run,
   and checks the profile ids are the same.
3. Publishes a journey with (a) as its Past Behaviour entry and times its entry check
   (evaluation and enrollment with the first move, batches of 5,000), wall time and the
   CPU time of the server backend and of Python; the journey and all it made are removed
   afterwards.
4. Prints the figures and a ``BENCH`` row per figure for ``make bench``'s table. Goal at
   1M profiles / 20M events: every condition under 5 s warm (15 s cold).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from common import conninfo, recreate_database, with_db  # bench/common.py

ROOT = Path(__file__).resolve().parent.parent
GOAL_WARM_S = 5.0


def fail(message: str) -> None:
    print(f"bench/segments.py: {message}", file=sys.stderr)
    sys.exit(2)


def bench_row(figure: str, value: str, baseline: str, ratio: str, goal: str) -> None:
    """One row of ``make bench``'s table (bench/run.py reads lines starting with BENCH)."""
    print("\t".join(["BENCH", f"segments: {figure}", value, baseline, ratio, goal]), flush=True)


def manage(url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--database", default="journeys_bench_segments")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--reuse", action="store_true", help="use a kept, filled database")
    args = parser.parse_args()
    admin_url = os.environ.get("DATABASE_URL", "")
    if not admin_url.startswith(("postgres://", "postgresql://")):
        fail("DATABASE_URL must point at a PostgreSQL server")
    url = with_db(admin_url, args.database)
    if not args.reuse:
        print(f"Creating {args.database!r}, migrating, generating data ...", flush=True)
        recreate_database(admin_url, args.database)
        manage(url, "migrate", "--noinput", "-v0")
        started = time.perf_counter()
        manage(
            url,
            "generate_data",
            *("--profiles", str(args.profiles), "--events", str(args.events)),
            *("--days", str(args.days)),
        )
        print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)
    try:
        measure(url)
    finally:
        if not args.keep:
            recreate_database(admin_url, args.database, drop_only=True)


def measure(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeys_site.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import psycopg
    from django.db import connection
    from django.utils import timezone

    from engine.domain.blocks import DidCondition, DidNotCondition
    from engine.domain.fields import Comparison, SumComparison
    from engine.models import Event, Profile, Project
    from engine.segments import qualifying_ids

    project = Project.objects.order_by("-id").first()
    if project is None:
        fail("no project in the database: run without --reuse")
        return
    profiles = Profile.objects.filter(project=project).count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'engine_event'")
        events = cursor.fetchone()[0]
    print(f"project {project.id}: {profiles:,} profiles, about {events:,} events")
    now = timezone.now()
    table = Event._meta.db_table
    # name -> (conditions, window days, hand-written WHERE names, HAVING)
    cases: dict[str, tuple[list[Any], int, list[str], str]] = {
        "did Video Watched and not Subscription Paid, 30 d": (
            [DidCondition("Video Watched"), DidNotCondition("Subscription Paid")],
            30,
            ["Video Watched", "Subscription Paid"],
            (
                "count(*) FILTER (WHERE name = 'Video Watched') > 0"
                " AND count(*) FILTER (WHERE name = 'Subscription Paid') = 0"
            ),
        ),
        "sum of Charged amount >= 300, 7 d": (
            [DidCondition("Charged", sum=SumComparison("amount", "gte", 300))],
            7,
            ["Charged"],
            "sum((properties ->> 'amount')::float8) >= 300",
        ),
        "count of Video Watched >= 3, 30 d": (
            [DidCondition("Video Watched", count=Comparison("gte", 3))],
            30,
            ["Video Watched"],
            "count(*) >= 3",
        ),
    }
    raw = psycopg.connect(conninfo(url), autocommit=True)

    def hand(names: list[str], days: int, having: str, seq: bool = False) -> list[int]:
        with raw.transaction(), raw.cursor() as cur:
            cur.execute("SET LOCAL work_mem = '64MB'")
            if seq:
                for kind in ("indexscan", "indexonlyscan", "bitmapscan"):
                    cur.execute(f"SET LOCAL enable_{kind} = off")
            cur.execute(
                f"SELECT profile_id FROM {table} WHERE project_id = %s AND name = ANY(%s)"
                f" AND ts >= %s AND ts <= %s GROUP BY profile_id HAVING {having}",
                [project.id, names, now - timedelta(days=days), now],
            )
            return sorted(row[0] for row in cur.fetchall())

    print(f"\n{'condition':52} {'first':>8} {'warm':>8} {'hand':>8} {'seq scan':>9} {'found':>9}")
    for name, (conditions, days, names, having) in cases.items():

        def ours(conditions: list[Any] = conditions, days: int = days) -> list[int]:
            return qualifying_ids(
                project_id=project.id,
                conditions=conditions,
                match="all",
                window_days=days,
                now=now,
            )

        first, found = timed(ours)
        warm = min(timed(ours)[0] for _ in range(3))
        hand_s, expected = min(
            (timed(lambda n=names, d=days, h=having: hand(n, d, h)) for _ in range(3)),
            key=lambda pair: pair[0],
        )
        seq_s, by_seq = timed(lambda n=names, d=days, h=having: hand(n, d, h, seq=True))
        same = found == expected == by_seq
        print(
            f"{name:52} {first:7.2f}s {warm:7.2f}s {hand_s:7.2f}s {seq_s:8.2f}s"
            f" {len(found):>9,}{'' if same else '  MISMATCH'}"
        )
        if not same:
            fail(f"{name}: {len(found)} profiles, the hand-written query finds {len(expected)}")
        bench_row(
            f"{name} (warm, s)", f"{warm:.2f}", f"{hand_s:.2f}", f"{warm / hand_s:.2f}", "< 5 s"
        )
        bench_row(
            f"{name} (first, s)",
            f"{first:.2f}",
            f"{seq_s:.2f} seq",
            f"{first / seq_s:.2f}",
            "< 15 s",
        )
    raw.close()
    entry(project, now)
    print(
        f"\nfound = qualifying profiles (the same ids from all three). Goal at 1M/20M:"
        f" < {GOAL_WARM_S:.0f} s warm, < 15 s cold. 'first' is the first run after the load"
        " (the OS page cache is not dropped: not a true cold start)."
    )


def entry(project: Any, now: Any, *, label: str = "") -> None:
    """A journey with condition (a) as its Past Behaviour entry and a 1-day delay after it:
    the entry check (evaluate the project, enter the qualifying users with their first
    move, in batches of 5,000 on ``ENTRY_WORKERS`` connections) timed end to end, as at
    publish. The server's CPU is this connection's backend plus, for the batches entered
    on other connections, each of those backends' CPU from its first batch to its last.
    ``label`` is added to the table's row names (bench/ingest.py starts the journey while
    it ingests: those rows are not the quiet start's)."""
    from django.contrib.auth import get_user_model

    from builder import services
    from engine import entries, loaders
    from engine.blocks import handler
    from engine.models import Enrollment

    user, _ = get_user_model().objects.get_or_create(username="bench-segments")
    definition = {
        "settings": {"allow_reentry": False},
        "entry": {
            "id": "entry",
            "type": "past_behaviour",
            "window_days": 30,
            "match": "all",
            "conditions": [
                {"kind": "did", "event": "Video Watched"},
                {"kind": "did_not", "event": "Subscription Paid"},
            ],
        },
        "nodes": [{"id": "wait", "type": "delay", "duration": "P1D"}],
        "edges": [{"from": "entry", "to": "wait", "branch": "yes"}],
    }
    journey = services.journey_create(
        project=project, user=user, name=f"bench {time.time():.0f}", definition=definition
    )
    journey = services.journey_publish(journey=journey, user=user)
    live = loaders.trigger_index(project.id, fresh=True).journeys[journey.id]
    # Backend pid -> [CPU before its first batch, CPU after its last batch].
    backends: dict[int, list[float]] = {}
    enter_batch = entries._enter_batch

    def measured(*args: Any, **kwargs: Any) -> Any:
        pid, before = backend_cpu()
        backends.setdefault(pid, [before, before])
        try:
            return enter_batch(*args, **kwargs)
        finally:
            backends[pid][1] = backend_cpu()[1]

    entries._enter_batch = measured  # type: ignore[assignment]
    own, _ = backend_cpu()
    server, python = server_cpu(), time.process_time()
    try:
        seconds, entered = timed(lambda: handler("past_behaviour").entry_check(live, now))
    finally:
        entries._enter_batch = enter_batch  # type: ignore[assignment]
    server, python = server_cpu() - server, time.process_time() - python
    others = {pid: last - first for pid, (first, last) in backends.items() if pid != own}
    server += sum(others.values())
    waiting = Enrollment.objects.filter(journey_id=journey.id, node="wait").count()
    rate = entered / seconds if seconds else 0.0
    cpu = server + python
    print(
        f"\nentry: {entered:,} users entered in {seconds:.1f} s ({rate:,.0f}/s), {waiting:,} at"
        f" the delay; CPU {cpu:.1f} s ({entered / cpu if cpu > 0 else 0:,.0f} users per CPU"
        f" second): server {server:.1f} s, Python {python:.1f} s;"
        f" {len(others) + 1} connection(s) (ENTRY_WORKERS {entries.ENTRY_WORKERS})"
    )
    # The rate's goal is the quiet start's; a start sharing the CPUs with ingest has none.
    goal = "" if label else ">= 20,000/s"
    bench_row(f"journey start{label}, users entered/s", f"{rate:,.0f}", "", "", goal)
    bench_row(
        f"journey start{label} (evaluate + enter), s", f"{seconds:.1f}", "", "", "< 60 s at 1M"
    )
    if cpu > 0:
        bench_row(
            f"journey start{label}, users per CPU second (server + Python)",
            f"{entered / cpu:,.0f}",
            "",
            "",
            "",
        )
    if not label:
        daily(live, now, entered)
    remove(journey.id)


def daily(live: Any, now: Any, entered: int) -> None:
    """The same journey's next scheduled evaluation, 24 hours later (PRODUCT.md: a Past
    Behaviour entry is evaluated again every 24 hours): the whole project evaluated again,
    its qualifying users checked in batches against the stays of the first evaluation (no
    re-entry: those are turned away) and the new ones entered."""
    from engine.blocks import handler

    later = now + timedelta(days=1)
    seconds, again = timed(lambda: handler("past_behaviour").entry_check(live, later))
    print(
        f"daily evaluation 24 h later: {again:,} new users entered in {seconds:.1f} s"
        f" ({entered:,} entered the day before and still in the journey)"
    )
    bench_row(
        "journey's evaluation 24 h later (evaluate, turn away those already in, enter the new), s",
        f"{seconds:.1f}",
        "",
        "",
        "",
    )


def server_cpu() -> float:
    """CPU seconds used so far by this connection's PostgreSQL backend (when the server
    runs on this machine; 0 otherwise). Wall times on a shared machine wait for the CPU;
    this does not."""
    return backend_cpu()[1]


def backend_cpu() -> tuple[int, float]:
    """The pid of this thread's connection's backend and its CPU seconds so far."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return pid, 0.0
    return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def remove(journey_id: int) -> None:
    """The benchmark's journey goes, with every stay, step and rollup row it made: a
    reused database (--reuse) is left as it was found. The two tables are vacuumed after
    the delete: the next run would otherwise enter its users into indexes still holding
    the 300,000 dead stays of this one (until autovacuum came by), which cost the next
    start about 60% more server CPU (16.1 s against 9.5 s)."""
    from django.db import connection, transaction

    from builder.models import Journey

    tables = ("engine_step", "engine_enrollment", "stats_enrollmenthour", "stats_stephour")
    with transaction.atomic(), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DELETE FROM {table} WHERE journey_id = %s", [journey_id])
        Journey.objects.filter(id=journey_id).update(live_version=None)
        Journey.objects.filter(id=journey_id).delete()
    with connection.cursor() as cursor:  # VACUUM runs outside a transaction
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {table}")


if __name__ == "__main__":
    main()
