"""In-app messages end to end: the SDK on a customer's page (its own origin), the real ASGI
app under daphne in another process (the embedded default, and with Redis when there is
one), and the engine's work done from THIS process, as the worker does it in production.

A live journey sends an in-app message: the pop-up appears within 2 s, the visitor's click
comes back as a ``Notification Clicked`` event that meets the journey's goal; the same for
a message queued while no page was open, shown on the next page view.

PostgreSQL only: on SQLite the test database is in memory, which another process cannot
open.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlparse

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from builder import services as builder_services
from builder.models import Journey
from engine import delivery, inbox, loaders, services, ticker
from engine.ingest import parse_events
from engine.models import Enrollment, Event, Message, Project
from engine.work import run_inline
from tests.browser import launch_chromium

ROOT = Path(__file__).resolve().parents[2]
SDK_FILE = ROOT / "static" / "sdk" / "journeys.js"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not settings.DATABASE_IS_POSTGRES,
        reason="needs DATABASE_URL=postgres://... (the server process shares the test database)",
    ),
]

T = TypeVar("T")

# Message content a marketer typed, with markup that must show as text, never run.
TITLE = 'Welcome <img src=x onerror="window.pwned=1"> Ana'
TOUR = {
    "settings": {"conversion_time": "P7D"},
    "entry": {"id": "entry", "type": "action", "event": "Start Tour"},
    "nodes": [
        {
            "id": "tour",
            "type": "in_app",
            "title": TITLE,
            "body": "Take the two-minute tour, {{ profile.first_name | default: 'friend' }}",
            "button_text": "Start the tour",
        },
        {"id": "wait", "type": "delay", "duration": "P1D"},
    ],
    "edges": [{"from": "entry", "to": "tour"}, {"from": "tour", "to": "wait"}],
    "goals": [{"id": "toured", "type": "action", "event": "Notification Clicked"}],
}


def wait_for(fn: Callable[[], T], timeout: float = 10.0, step: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(step)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _test_database_url() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    host = f"{auth}@" if auth else ""
    host += s["HOST"] or "127.0.0.1"
    if s.get("PORT"):
        host += f":{s['PORT']}"
    return f"postgres://{host}/{s['NAME']}"


def _redis_url() -> str | None:
    """A Redis database of its own for the server (its queued tasks are dropped after)."""
    base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    url = urlparse(base)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), 0.5):
            pass
    except OSError:
        return None
    return f"{url.scheme}://{url.netloc}/13"


# --- the engine's worker, run from this process ---------------------------------------------


class Worker:
    """Does what the Celery worker does, synchronously: the event inbox, due work, delivery."""

    def __init__(self, project: Project) -> None:
        self.project = project

    def run(self) -> None:
        inbox.process_inbox(self.project.pk)
        for _ in range(5):
            work = ticker.collect(timezone.now())
            for kind, args in work:
                run_inline(kind, args)
            if not work:
                break
        delivery.deliver_due()

    def until(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        def step() -> T:
            self.run()
            return fn()

        return wait_for(step, timeout, step=0.1)


def ingest(project: Project, profile_id: str, name: str) -> None:
    records = parse_events(
        {"events": [{"profile_id": profile_id, "name": name}]}, now=timezone.now(), max_items=10
    )
    services.events_ingest(project=project, records=records)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_engine_caches() -> Iterator[None]:
    loaders.version.cache_clear()
    loaders._indexes.clear()
    cache.clear()
    yield
    loaders.version.cache_clear()
    loaders._indexes.clear()
    cache.clear()


@pytest.fixture
def journey(project: Project, marketer: Any) -> Journey:
    draft = builder_services.journey_create(
        project=project, user=marketer, name="Tour", definition=TOUR
    )
    return builder_services.journey_publish(journey=draft, user=marketer)


@pytest.fixture(params=["embedded", "redis"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """daphne serving journeys_site.asgi on a free port against the test database, with the
    production settings: the embedded default (no REDIS_URL), or Redis."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    redis_url = None
    if request.param == "redis":
        redis_url = _redis_url()
        if redis_url is None:
            pytest.skip("no Redis on 127.0.0.1:6379 (or REDIS_URL)")
        env["REDIS_URL"] = redis_url
    port = _free_port()
    env.update(
        DJANGO_SETTINGS_MODULE="journeys_site.settings",
        DATABASE_URL=_test_database_url(),
        JOURNEYS_VAR_DIR=str(tmp_path / "var"),
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "daphne.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
             "journeys_site.asgi:application"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"daphne exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{base}/api/v1/web-push/key", timeout=1)
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
        if redis_url:
            import redis

            redis.Redis.from_url(redis_url).flushdb()  # the tasks nobody consumed


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """The customer's site: a static server on its own origin, with a copy of the SDK."""
    folder = tmp_path / "site"
    folder.mkdir()
    shutil.copy(SDK_FILE, folder / "journeys.js")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder))
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield folder, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def browser() -> Iterator[Any]:
    try:
        yield from launch_chromium()
    finally:
        # Under Playwright's sync API the ORM calls got a connection of their own; close
        # it, or the test database cannot be dropped at the end of the run.
        connection.close()


@pytest.fixture
def open_page(
    browser: Any, site: tuple[Path, str], server: str, project: Project
) -> Iterator[Callable[[str], Any]]:
    folder, origin = site
    contexts: list[Any] = []

    def open_as(profile_id: str) -> Any:
        (folder / "index.html").write_text(
            "<!doctype html><html><head><meta charset=utf-8><title>Shop</title></head><body>"
            "<h1>Shop</h1><button id=host>Host button</button>"
            "<script>document.getElementById('host').focus();"  # where the visitor was
            f"window.journeys=[['identify','{profile_id}',{{first_name:'Ana'}}]];</script>"
            f'<script src="{origin}/journeys.js" data-key="{project.sdk_key}" '
            f'data-api="{server}" async></script></body></html>'
        )
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.started = time.monotonic()  # the page view starts here
        page.goto(f"{origin}/index.html")
        page.wait_for_function("() => window.journeys && window.journeys.version")
        return page

    yield open_as
    for context in contexts:
        context.close()


def dialog_shown(page: Any, started: float) -> Any:
    dialog = page.get_by_role("dialog")
    dialog.wait_for(state="visible", timeout=2_000)
    elapsed = time.monotonic() - started
    assert elapsed < 2, elapsed
    return dialog


def assert_text_only(page: Any, dialog: Any) -> None:
    """The marketer's markup is shown as text: no element made of it, nothing ran."""
    assert dialog.get_by_role("heading").inner_text() == TITLE
    assert dialog.locator("img").count() == 0
    assert page.evaluate("() => window.pwned") is None


def closes_its_connection(test: Callable[..., None]) -> Callable[..., None]:
    """Close the connection the test's ORM calls used: with Playwright's sync API running,
    they get one of their own, which would keep the test database from being dropped."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            test(*args, **kwargs)
        finally:
            connection.close()

    return run


# --- tests -----------------------------------------------------------------------------------


@closes_its_connection
def test_a_live_journeys_in_app_message_pops_up_within_2_s_and_its_click_meets_the_goal(
    journey: Journey, project: Project, open_page: Callable[[str], Any]
) -> None:
    worker = Worker(project)
    page = open_page("u-1")
    page.wait_for_function("() => journeys.inApp.connected", timeout=10_000)
    assert worker.until(lambda: project.profiles.filter(external_id="u-1").exists())

    ingest(project, "u-1", "Start Tour")
    sent = worker.until(
        lambda: Message.objects.filter(journey=journey, node="tour", status="sent").first()
    )
    assert sent is not None, list(Message.objects.values("status", "error"))
    dialog = dialog_shown(page, time.monotonic())

    # Accessible: a dialog named by its title, its body as description, focus on it.
    assert page.get_by_role("dialog", name=TITLE).count() == 1
    assert dialog.get_attribute("aria-describedby")
    assert "Take the two-minute tour, Ana" in dialog.inner_text()
    assert page.evaluate("() => document.activeElement.getAttribute('role')") == "dialog"
    assert dialog.get_by_role("button", name="Close").count() == 1
    assert_text_only(page, dialog)

    dialog.get_by_role("button", name="Start the tour").click()
    assert page.get_by_role("dialog").count() == 0

    clicked = wait_for(
        lambda: Event.objects.filter(
            profile__external_id="u-1", name="Notification Clicked"
        ).first()
    )
    assert clicked is not None
    assert clicked.properties["message_id"] == sent.pk
    assert Event.objects.filter(profile__external_id="u-1", name="Notification Viewed").count() == 1
    assert Message.objects.get(pk=sent.pk).status == Message.Status.CLICKED

    def exited() -> Enrollment | None:
        return Enrollment.objects.filter(
            journey=journey, profile__external_id="u-1", exit_reason="goal_met"
        ).first()

    assert worker.until(exited), list(Enrollment.objects.values("state", "node", "exit_reason"))
    assert page.errors == []


@closes_its_connection
def test_a_message_queued_while_the_page_was_closed_shows_on_the_next_page_view(
    journey: Journey, project: Project, open_page: Callable[[str], Any]
) -> None:
    worker = Worker(project)
    ingest(project, "u-2", "Start Tour")  # no page open for u-2
    sent = worker.until(
        lambda: Message.objects.filter(journey=journey, node="tour", status="sent").first()
    )
    assert sent is not None

    page = open_page("u-2")
    dialog = dialog_shown(page, page.started)
    assert_text_only(page, dialog)

    # Keyboard only: from the dialog, Tab reaches its button and Enter presses it.
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.textContent")
    assert focused == "Start the tour"
    page.keyboard.press("Enter")
    assert page.get_by_role("dialog").count() == 0

    assert wait_for(
        lambda: Event.objects.filter(
            profile__external_id="u-2", name="Notification Clicked"
        ).exists()
    )
    assert worker.until(
        lambda: Enrollment.objects.filter(
            journey=journey, profile__external_id="u-2", exit_reason="goal_met"
        ).exists()
    )
    assert page.errors == []


@closes_its_connection
def test_escape_dismisses_gives_focus_back_and_the_message_is_not_shown_again(
    journey: Journey, project: Project, open_page: Callable[[str], Any]
) -> None:
    worker = Worker(project)
    ingest(project, "u-3", "Start Tour")
    assert worker.until(lambda: Message.objects.filter(journey=journey, status="sent").exists())

    page = open_page("u-3")
    # The 2 s figure is the other tests' business; this one is about dismissing.
    page.get_by_role("dialog").wait_for(state="visible", timeout=10_000)
    page.keyboard.press("Escape")  # focus is on the dialog
    assert page.get_by_role("dialog").count() == 0
    assert page.evaluate("() => document.activeElement.id") == "host"

    assert wait_for(lambda: "dismissed_at" in Message.objects.get(journey=journey).delivery)
    page.reload()
    page.wait_for_function("() => journeys.inApp.connected", timeout=10_000)
    page.wait_for_timeout(1_500)  # a poll or two: nothing comes
    assert page.get_by_role("dialog").count() == 0
    message = Message.objects.get(journey=journey)
    assert message.status == Message.Status.OPENED  # viewed, then dismissed: no click
    assert not Event.objects.filter(name="Notification Clicked").exists()
    assert page.errors == []
