"""The engine on real Celery workers: two worker processes, Redis, PostgreSQL, a live ticker.

About 1,000 users enter through ingest (so ``engine.process_events`` runs on the
workers), wait 2 s, get a push, wait 1 s, get a webhook and complete. The ticker runs
here, the moves run on the workers. Afterwards nothing is duplicated and nothing is
left pending. PostgreSQL and Redis only (SKIP LOCKED and a shared broker); the workers
get the Redis database ``JOURNEYS_TEST_REDIS_DB`` (default 13), which is flushed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse, urlunparse

import pytest
from django.db import connection
from django.db.models import Count

from builder import services as builder_services
from engine import loaders, ticker
from engine.models import Enrollment, Message, Step
from engine.work import dispatch_to_celery
from journeys_site.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
USERS = 1000
EVENTS_PER_REQUEST = 100
DEADLINE_SECONDS = 60
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        urlparse(DATABASE_URL).scheme not in ("postgres", "postgresql"),
        reason="needs DATABASE_URL=postgres://... (workers and the test share a real database)",
    ),
    pytest.mark.skipif(
        not REDIS_URL, reason="needs REDIS_URL=redis://... (the broker between test and workers)"
    ),
]

JOURNEY = {
    "settings": {"allow_reentry": False},
    "entry": {"id": "entry", "type": "action", "event": "Signed Up"},
    "nodes": [
        {"id": "wait1", "type": "delay", "duration": 2},
        {"id": "push1", "type": "push", "title": "Welcome", "body": "Hi {{ profile.id }}"},
        {"id": "wait2", "type": "delay", "duration": 1},
        {
            "id": "hook",
            "type": "webhook",
            "url": "http://127.0.0.1:9/welcomed",
            "body": '{"user": "{{ profile.id }}"}',
        },
    ],
    "edges": [
        {"from": "entry", "to": "wait1"},
        {"from": "wait1", "to": "push1"},
        {"from": "push1", "to": "wait2"},
        {"from": "wait2", "to": "hook"},
    ],
}


def _test_database_url() -> str:
    """The database pytest-django created for this run, as a URL for the workers."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    host = f"{auth}@" if auth else ""
    host += s["HOST"] or "127.0.0.1"
    if s.get("PORT"):
        host += f":{s['PORT']}"
    return f"postgres://{host}/{s['NAME']}"


def _redis_url() -> str:
    db = os.environ.get("JOURNEYS_TEST_REDIS_DB", "13")
    return urlunparse(urlparse(REDIS_URL)._replace(path=f"/{db}"))


@pytest.fixture
def broker(settings: Any) -> Iterator[str]:
    """This process sends its tasks to the workers' Redis database (not memory://) and
    shares their cache (the ticker here hands out batches the workers hand back)."""
    import redis

    url = _redis_url()
    redis.Redis.from_url(url).flushdb()
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    }
    conf = celery_app.conf
    _ = conf.broker_url  # load the lazy config first, or it overwrites what we set
    # The app reads Django settings under the CELERY_ namespace: plain keys would not win.
    keys = ("CELERY_BROKER_URL", "CELERY_BROKER_TRANSPORT_OPTIONS", "CELERY_TASK_ALWAYS_EAGER")
    saved = {key: conf.get(key) for key in keys}
    conf.update(
        {
            "CELERY_BROKER_URL": url,
            "CELERY_BROKER_TRANSPORT_OPTIONS": {"visibility_timeout": 3600},
            "CELERY_TASK_ALWAYS_EAGER": False,
        }
    )
    # Connection and producer pools were built for the old URL; build them again.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    assert celery_app.connection_for_write().as_uri().startswith("redis://")
    yield url
    conf.update(saved)
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    redis.Redis.from_url(url).flushdb()


def _start_workers(
    count: int, redis_url: str, tmp: Path
) -> list[tuple[subprocess.Popen[bytes], Path]]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "journeys_site.settings",
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": redis_url,
        "DJANGO_SECRET_KEY": "worker-test-not-secret",
        "JOURNEYS_VAR_DIR": str(tmp / "var"),
        "JOURNEYS_RECORD_DIR": str(tmp / "outbox"),
        "JOURNEYS_PUSH_BACKEND": "record",
        "JOURNEYS_WEBHOOK_BACKEND": "record",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    workers = []
    for n in range(count):
        log = tmp / f"worker{n}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
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
                    "2",
                    "--hostname",
                    f"test-worker{n}-{os.getpid()}@127.0.0.1",
                    "--queues",
                    "celery,delivery",
                    "--without-gossip",
                    "--without-mingle",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its pool processes stop with it
            )
        workers.append((proc, log))
    return workers


def _wait_ready(workers: list[tuple[subprocess.Popen[bytes], Path]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    pending = list(workers)
    while pending and time.monotonic() < deadline:
        for proc, log in list(pending):
            if proc.poll() is not None:
                pytest.fail(f"worker exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            if " ready." in log.read_text(errors="replace"):
                pending.remove((proc, log))
        time.sleep(0.2)
    if pending:
        pytest.fail(f"worker not ready after {timeout}s:\n{pending[0][1].read_text()[-3000:]}")


def _stop(workers: list[tuple[subprocess.Popen[bytes], Path]]) -> None:
    for proc, _ in workers:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc, _ in workers:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_two_real_workers_move_every_user_once_through_delays_and_messages(
    project: Any, marketer: Any, ingest: Any, broker: str, tmp_path: Path
) -> None:
    loaders.version.cache_clear()
    loaders._indexes.clear()
    journey = builder_services.journey_create(
        project=project, user=marketer, name="Welcome", definition=JOURNEY
    )
    journey = builder_services.journey_publish(journey=journey, user=marketer)
    workers = _start_workers(2, broker, tmp_path)
    try:
        _wait_ready(workers)
        for start in range(0, USERS, EVENTS_PER_REQUEST):
            events = [
                {"id": f"e-{i}", "profile_id": f"u-{i}", "name": "Signed Up"}
                for i in range(start, start + EVENTS_PER_REQUEST)
            ]
            response = ingest.post("/api/v1/events", {"events": events}, format="json")
            assert response.status_code == 202, response.content

        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            ticker.tick(dispatch_to_celery)
            completed = Enrollment.objects.filter(
                journey=journey, state="exited", exit_reason="completed"
            ).count()
            if completed == USERS:
                break
            time.sleep(0.3)
        # Deliveries queued by the last moves finish; nothing else should be left to do.
        time.sleep(1)
    finally:
        _stop(workers)

    logs = "\n".join(log.read_text(errors="replace")[-2000:] for _, log in workers)
    enrollments = Enrollment.objects.filter(journey=journey)
    by_state = list(enrollments.values_list("state", "exit_reason", "node").annotate(n=Count("id")))
    assert enrollments.count() == USERS, (by_state, logs)
    assert enrollments.filter(state="exited", exit_reason="completed").count() == USERS, (
        by_state,
        logs,
    )
    assert not enrollments.filter(state="active", node_state="pending").exists()

    messages = Message.objects.filter(journey=journey)
    assert messages.count() == USERS * 2
    assert messages.values("enrollment", "node", "visit").distinct().count() == USERS * 2
    assert dict(messages.values("node").annotate(n=Count("id")).values_list("node", "n")) == {
        "push1": USERS,
        "hook": USERS,
    }

    steps = Step.objects.filter(journey=journey)
    # entry, wait1, push1, wait2, hook: one step each per user.
    assert steps.count() == USERS * 5
    assert steps.values("enrollment", "node", "visit").distinct().count() == USERS * 5
