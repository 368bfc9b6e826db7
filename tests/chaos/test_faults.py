"""Faults under load: workers killed with SIGKILL, Redis and PostgreSQL restarted mid-run.

The product runs as it does in production, in processes of its own: the web server
(`manage.py serve --no-worker --no-scheduler`), the engine worker, the delivery worker
and the scheduler, against a PostgreSQL cluster and a Redis server that this test starts
for itself (so restarting them disturbs nothing else on the machine). 10,000 users enter
a journey with two delays, a branch and a webhook on each path; while they move, the
test kills workers at random points, restarts Redis (its queued tasks are lost: Redis
runs without persistence) and restarts PostgreSQL (immediate shutdown, crash recovery).

Afterwards every user is where the journey says (Completed at the webhook of their
path), none is stuck, every user's webhook arrived once (a repeat must carry the same
idempotency key), and catching up after the last fault takes under 60 s. The figures
are printed and written to artifacts/chaos.json.

Run by .ci/run as `pytest -m chaos`; `make test` leaves it out.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
USERS = int(os.environ.get("JOURNEYS_CHAOS_USERS", "10000"))
CATCH_UP_LIMIT = 60.0
SEED = int(os.environ.get("JOURNEYS_CHAOS_SEED", str(int(time.time()))))

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.skipif(
        not glob.glob("/usr/lib/postgresql/*/bin/initdb") or not shutil.which("redis-server"),
        reason="needs PostgreSQL server binaries and redis-server (installed by .ci/run)",
    ),
]

JOURNEY = {
    "settings": {"allow_reentry": False},
    "entry": {"id": "entry", "type": "action", "event": "Signed Up"},
    "nodes": [
        {"id": "wait", "type": "delay", "duration": 3},
        {
            "id": "paid",
            "type": "past_behaviour",
            "window_days": 1,
            "evaluate": "on_arrival",
            "conditions": [{"kind": "did", "event": "Purchased"}],
        },
        {
            "id": "hook_a",
            "type": "webhook",
            "url": "WEBHOOK/a",
            "body": '{"user": "{{ profile.id }}", "path": "a"}',
        },
        {"id": "later", "type": "delay", "duration": 2},
        {
            "id": "hook_b",
            "type": "webhook",
            "url": "WEBHOOK/b",
            "body": '{"user": "{{ profile.id }}", "path": "b"}',
        },
    ],
    "edges": [
        {"from": "entry", "to": "wait"},
        {"from": "wait", "to": "paid"},
        {"from": "paid", "to": "hook_a", "branch": "yes"},
        {"from": "paid", "to": "later", "branch": "no"},
        {"from": "later", "to": "hook_b"},
    ],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the servers this test owns ------------------------------------------------------


class Postgres:
    """A throwaway PostgreSQL cluster (initdb as the postgres user, trust auth)."""

    def __init__(self, base: Path) -> None:
        self.bin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))[-1]).parent
        self.dir = base / "pg"
        self.port = free_port()
        self.log = base / "pg.log"

    def _as_postgres(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        if not self.dir.exists():
            self.dir.mkdir(parents=True)
            if os.geteuid() == 0:
                shutil.chown(self.dir, "postgres", "postgres")
                shutil.chown(self.dir.parent, "postgres", "postgres")
            self._as_postgres(
                "initdb", "-D", str(self.dir), "-A", "trust", "-U", "postgres", "--no-sync"
            )
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._as_postgres(
            "pg_ctl", "-D", str(self.dir), "-o", options, "-l", str(self.log), "-w", "start"
        )

    def restart(self) -> None:
        """An immediate shutdown (no checkpoint: crash recovery on start), then start."""
        self._as_postgres("pg_ctl", "-D", str(self.dir), "-m", "immediate", "-w", "stop")
        self.start()

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._as_postgres("pg_ctl", "-D", str(self.dir), "-m", "immediate", "-w", "stop")

    def url(self, db: str = "journeys") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"


class Redis:
    """A Redis server without persistence: a restart loses every queued task."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class Receiver:
    """The customer's webhook endpoint: records every request it gets."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []  # (path, idempotency key, user)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: senders reuse their connections

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender was killed mid-request: a receiver gets no request from a
                    # truncated body (it used to count one, with user "?", as a webhook).
                    self.close_connection = True
                    return
                try:
                    user = json.loads(body)["user"]
                except (ValueError, KeyError):
                    user = "?"
                with receiver.lock:
                    receiver.calls.append(
                        (self.path, self.headers.get("Idempotency-Key", ""), user)
                    )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@dataclass
class Stack:
    """The product's processes; workers can be killed and started again."""

    env: dict[str, str]
    log_dir: Path
    port: int
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    COMMANDS = {
        "web": ["manage.py", "serve", "--no-worker", "--no-scheduler", "--web-processes", "1"],
        "worker": [
            "-m",
            "celery",
            "-A",
            "journeys_site",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--hostname",
            "chaos-engine@%h",
            "--without-gossip",
            "--without-mingle",
            "--queues",
            "celery",
        ],
        "delivery": [
            "-m",
            "celery",
            "-A",
            "journeys_site",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "1",
            "--hostname",
            "chaos-delivery@%h",
            "--without-gossip",
            "--without-mingle",
            "--queues",
            "delivery",
        ],
        "scheduler": [
            "-m",
            "celery",
            "-A",
            "journeys_site",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            "SCHEDULE",
        ],
    }

    def start(self, name: str) -> None:
        command = [
            arg.replace("SCHEDULE", str(self.log_dir / "beat-schedule"))
            for arg in self.COMMANDS[name]
        ]
        if name == "web":
            command += ["--port", str(self.port)]
        log = (self.log_dir / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, *command],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    def kill(self, name: str) -> None:
        """SIGKILL the whole process group: the worker and its pool children die at once."""
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for name in list(self.procs):
            proc = self.procs.pop(name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, Any]]:
    base = Path(tempfile.mkdtemp(prefix="journeys-chaos-"))
    postgres, redis, receiver = Postgres(base), Redis(), Receiver()
    postgres.start()
    redis.start()
    subprocess.run(
        [
            str(postgres.bin / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(postgres.port),
            "-U",
            "postgres",
            "journeys",
        ],
        check=True,
        timeout=60,
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))},
        "DATABASE_URL": postgres.url(),
        "REDIS_URL": redis.url,
        "DJANGO_SETTINGS_MODULE": "journeys_site.settings",
        "JOURNEYS_VAR_DIR": str(base / "var"),
        "JOURNEYS_WEBHOOK_ALLOW_PRIVATE": "1",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SUPERUSER_USERNAME": "chaos",
        "DJANGO_SUPERUSER_PASSWORD": "chaos-pass-1",
        "DJANGO_SUPERUSER_EMAIL": "chaos@example.com",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    subprocess.run(
        [*manage, "createsuperuser", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    stack = Stack(env, base, free_port())
    for name in Stack.COMMANDS:
        stack.start(name)
    try:
        yield {
            "postgres": postgres,
            "redis": redis,
            "receiver": receiver,
            "stack": stack,
            "base": base,
        }
    finally:
        stack.stop_all()
        redis.stop()
        postgres.stop()
        receiver.server.shutdown()
        if os.environ.get("JOURNEYS_CHAOS_KEEP") != "1":
            shutil.rmtree(base, ignore_errors=True)


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_users_end_where_the_journey_says_after_kills_and_restarts(world: dict[str, Any]) -> None:
    stack: Stack = world["stack"]
    postgres: Postgres = world["postgres"]
    redis: Redis = world["redis"]
    receiver: Receiver = world["receiver"]
    rng = random.Random(SEED)
    api = httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=30)

    wait_until(lambda: api.get("/healthz").status_code == 200, 90, "the web server and a worker")
    token = api.post(
        "/api/v1/auth/token", json={"username": "chaos", "password": "chaos-pass-1"}
    ).json()["token"]
    marketer = {"Authorization": f"Token {token}"}
    project = api.post(
        "/api/v1/projects", json={"name": "Chaos", "timezone": "UTC"}, headers=marketer
    ).json()
    definition = json.loads(json.dumps(JOURNEY).replace("WEBHOOK", receiver.url))
    journey = api.post(
        "/api/v1/journeys",
        json={"project": project["id"], "name": "Chaos", "definition": definition},
        headers=marketer,
    ).json()
    published = api.post(f"/api/v1/journeys/{journey['id']}/publish", headers=marketer)
    assert published.status_code == 200, published.text
    ingest = {"Authorization": f"Bearer {project['ingest_key']}"}

    users = [f"u-{n}" for n in range(USERS)]
    buyers = set(users[::2])

    def send(events: list[dict[str, Any]]) -> None:
        """Ingest must hold through the faults too: a refused or failed request is sent again."""
        for attempt in range(120):
            try:
                response = api.post("/api/v1/events", json={"events": events}, headers=ingest)
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code == 202:
                return
            time.sleep(0.5 if attempt < 20 else 1)
        raise AssertionError("ingest did not come back")

    # Purchases first (the branch reads them on arrival), then the entries, with ids so a
    # request retried after a fault cannot store an event twice.
    for chunk in range(0, USERS, 200):
        send(
            [
                {"id": f"p-{u}", "profile_id": u, "name": "Purchased"}
                for u in users[chunk : chunk + 200]
                if u in buyers
            ]
        )

    faults: list[tuple[float, str]] = []
    started = time.monotonic()
    plan = sorted(
        [(rng.uniform(1, 25), "kill worker") for _ in range(3)]
        + [(rng.uniform(2, 25), "kill delivery")]
        + [(rng.uniform(5, 20), "restart redis"), (rng.uniform(8, 25), "restart postgres")]
    )

    def inject() -> None:
        for at, fault in plan:
            time.sleep(max(0.0, started + at - time.monotonic()))
            if fault.startswith("kill"):
                name = fault.split()[1]
                stack.kill(name)
                time.sleep(rng.uniform(0.2, 2.0))
                stack.start(name)
            elif fault == "restart redis":
                redis.restart()
            else:
                postgres.restart()
            faults.append((time.monotonic() - started, fault))

    injector = threading.Thread(target=inject)
    injector.start()
    for chunk in range(0, USERS, 100):
        send(
            [
                {"id": f"s-{u}", "profile_id": u, "name": "Signed Up"}
                for u in users[chunk : chunk + 100]
            ]
        )
        time.sleep(0.05)
    injector.join()
    last_fault = time.monotonic()

    def final_states() -> dict[str, tuple[str, str, str]]:
        with psycopg.connect(postgres.url(), connect_timeout=5) as conn:
            rows = conn.execute(
                "SELECT p.external_id, e.state, e.node, e.exit_reason FROM engine_enrollment e "
                "JOIN engine_profile p ON p.id = e.profile_id WHERE e.journey_id = %s",
                [journey["id"]],
            ).fetchall()
        return {ext: (state, node, reason) for ext, state, node, reason in rows}

    def caught_up() -> bool:
        states = final_states()
        done = sum(1 for state, _, _ in states.values() if state != "active")
        delivered = len({user for _, _, user in receiver.calls})
        with psycopg.connect(postgres.url(), connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT count(*) FROM engine_message WHERE journey_id = %s AND status = 'sent'",
                [journey["id"]],
            ).fetchone()
        recorded = row[0] if row else 0
        return len(states) == USERS and done == USERS and delivered >= USERS and recorded == USERS

    try:
        wait_until(
            caught_up, CATCH_UP_LIMIT + 60, "every user to finish and every webhook to arrive"
        )
    finally:
        catch_up = time.monotonic() - last_fault
        states = final_states()
        calls = list(receiver.calls)
        keys_per_user: dict[str, set[str]] = defaultdict(set)
        paths: dict[str, set[str]] = defaultdict(set)
        for path, key, user in calls:
            keys_per_user[user].add(key)
            paths[user].add(path)
        duplicates = sum(len(keys) - 1 for keys in keys_per_user.values())
        with psycopg.connect(postgres.url(), connect_timeout=5) as conn:
            statuses = dict(
                conn.execute(
                    "SELECT status, count(*) FROM engine_message WHERE journey_id = %s GROUP BY status",
                    [journey["id"]],
                ).fetchall()
            )
            stuck = conn.execute(
                "SELECT id, attempts, next_attempt_at, now(), error FROM engine_message "
                "WHERE journey_id = %s AND status <> 'sent' ORDER BY id LIMIT 5",
                [journey["id"]],
            ).fetchall()
        figures = {
            "seed": SEED,
            "users": USERS,
            "faults": faults,
            "kills": sum(1 for _, f in faults if f.startswith("kill")),
            "redis_restarts": sum(1 for _, f in faults if f == "restart redis"),
            "postgres_restarts": sum(1 for _, f in faults if f == "restart postgres"),
            "webhook_requests": len(calls),
            "users_with_a_webhook": len(keys_per_user),
            "duplicates_with_a_new_key": duplicates,
            "repeats_with_the_same_key": len(calls) - sum(len(k) for k in keys_per_user.values()),
            "enrollment_states": Counter(f"{s}/{n}/{r}" for s, n, r in states.values()),
            "message_statuses": statuses,
            "unsent_messages_sample": stuck,
            "catch_up_seconds": round(catch_up, 1),
        }
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "chaos.json").write_text(json.dumps(figures, indent=2, default=str))
        print("\nchaos figures:", json.dumps(figures, default=str))

    assert len(faults) == len(plan)
    assert duplicates == 0, "a webhook went out twice under different idempotency keys"
    assert len(keys_per_user) == USERS
    for user in users:
        expected = "hook_a" if user in buyers else "hook_b"
        assert states[user][1] == expected, (user, states[user])
        assert (states[user][0], states[user][2]) == ("exited", "completed"), (user, states[user])
        assert paths[user] == {"/a" if user in buyers else "/b"}, (user, paths[user])
    assert set(statuses) == {"sent"}, statuses
    assert catch_up < CATCH_UP_LIMIT, f"catching up took {catch_up:.1f} s"
