"""The live overlay end to end: the real ASGI app under daphne in another process, a real
Chromium opening the websocket, and occupancy changed from THIS process (as the worker
changes it in production). With the embedded default's in-memory channel layer nothing
but the database connects the two processes, so this is the case the broadcaster's
polling exists for.

PostgreSQL only: on SQLite the test database is in memory, which another process cannot
open."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.services import token_issue
from builder import services as builder_services
from builder.models import Journey
from engine.models import Enrollment, Profile, Project
from tests.browser import launch_chromium
from tests.stats.journeys import neither

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not settings.DATABASE_IS_POSTGRES,
        reason="needs DATABASE_URL=postgres://... (the server process shares the test database)",
    ),
]


def _test_database_url() -> str:
    """The database pytest-django created for this run, as a URL for the server."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    host = f"{auth}@" if auth else ""
    host += s["HOST"] or "127.0.0.1"
    if s.get("PORT"):
        host += f":{s['PORT']}"
    return f"postgres://{host}/{s['NAME']}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _enter(journey: Journey, profile_id: str, node: str) -> None:
    now = timezone.now()
    assert journey.live_version is not None
    profile = Profile.objects.create(project=journey.project, external_id=profile_id)
    Enrollment.objects.create(
        project_id=journey.project_id,
        journey=journey,
        version=journey.live_version,
        profile=profile,
        node=node,
        state=Enrollment.State.ACTIVE,
        entered_at=now,
        node_entered_at=now,
    )


@pytest.fixture
def journey(project: Project, marketer: Any) -> Journey:
    draft = builder_services.journey_create(
        project=project, user=marketer, name="Live", definition=neither()
    )
    journey = builder_services.journey_publish(journey=draft, user=marketer)
    _enter(journey, "u1", "opened")
    return journey


@pytest.fixture
def server(journey: Journey, tmp_path: Path) -> Iterator[str]:
    """daphne serving journeys_site.asgi on a free port against the test database, with
    the production settings and no REDIS_URL (the embedded default)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="journeys_site.settings",
        DATABASE_URL=_test_database_url(),
        DJANGO_SECRET_KEY=settings.SECRET_KEY,  # so the test's session cookie is valid there
        JOURNEYS_VAR_DIR=str(tmp_path / "var"),
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "daphne.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
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
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"daphne exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{base}/api/v1/journeys/{journey.pk}/occupancy", timeout=1)
            except urllib.error.HTTPError:
                break  # 401: it answers
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"daphne not up after 30 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)
            else:
                break
        yield base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_chromium()


OPEN = """([name, url]) => {
    window.sockets = window.sockets || {};
    const s = window.sockets[name] = {messages: [], closed: null};
    const ws = new WebSocket(url);
    ws.onmessage = (e) => s.messages.push(JSON.parse(e.data));
    ws.onclose = (e) => { s.closed = e.code; };
}"""


def test_a_change_made_by_another_process_reaches_the_browser_within_2_s(
    journey: Journey, marketer: Any, server: str, browser: Any
) -> None:
    try:
        token = token_issue(user=marketer)[1]
        client = Client()
        client.force_login(marketer)
        with urllib.request.urlopen(
            urllib.request.Request(
                f"{server}/api/v1/journeys/{journey.pk}/occupancy",
                headers={"Authorization": f"Token {token}"},
            ),
            timeout=5,
        ) as response:
            http = json.loads(response.read())
        assert http == {"nodes": {"entry": 0, "opened": 1, "mail": 0}, "total": 1}

        context = browser.new_context()
        host = server.removeprefix("http://").split(":")[0]
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "domain": host,
                    "path": "/",
                }
            ]
        )
        page = context.new_page()
        page.goto(f"{server}/api/v1/journeys/{journey.pk}/occupancy")  # this site's origin
        ws = server.replace("http://", "ws://") + f"/ws/journeys/{journey.pk}/"
        page.evaluate(OPEN, ["token", f"{ws}?token={token}"])
        page.evaluate(OPEN, ["session", ws])
        page.evaluate(OPEN, ["bad", f"{ws}?token=nope"])

        # Functions, not expression strings: the page's CSP forbids eval (Playwright
        # evaluates a string predicate with it).
        page.wait_for_function(
            "() => ['token', 'session'].every(n => window.sockets[n].messages.length === 1)"
            " && window.sockets.bad.closed !== null",
            timeout=10_000,
        )
        for name in ("token", "session"):
            assert page.evaluate(f"window.sockets.{name}.messages[0]") == {
                "type": "occupancy",
                **http,
            }
        assert page.evaluate("window.sockets.bad.closed") == 4401

        started = time.monotonic()
        _enter(journey, "u2", "mail")  # committed: this is another process than the server
        page.wait_for_function(
            "() => ['token', 'session'].every(n => window.sockets[n].messages.length === 2)",
            timeout=2_000,
        )
        assert time.monotonic() - started < 2
        expected = {"type": "occupancy", "nodes": {"entry": 0, "opened": 1, "mail": 1}, "total": 2}
        for name in ("token", "session"):
            assert page.evaluate(f"window.sockets.{name}.messages[1]") == expected
        context.close()
    finally:
        # Under Playwright's sync API the ORM calls above got a connection of their own;
        # close it, or the test database cannot be dropped at the end of the run.
        connection.close()
