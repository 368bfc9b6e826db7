"""The stats overlay on the canvas in a real Chromium: live counts without a reload, the
time-frame picker and the journey summary, per-block figures, details pages and stuck users."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from builder import services as builder_services
from builder.models import Journey
from engine.models import Enrollment, Project
from engine.work import run_inline
from tests.builder import test_canvas_browser as canvas
from tests.builder.test_canvas_browser import (
    api_get,
    block,
    cart_definition,
    send_events,
    shot,
    wait_for,
)
from tests.factories import ProfileFactory
from tests.stats.test_live_server import _test_database_url

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The canvas tests' fixtures: one Chromium per module, pages signed in as a member.
browser = canvas.browser
open_as = canvas.open_as


def live_cart(project: Project, user: Any) -> Journey:
    journey = builder_services.journey_create(
        project=project, user=user, name="Cart abandonment", definition=cart_definition()
    )
    return builder_services.journey_publish(journey=journey, user=user)


def enroll(journey: Journey, profile_id: str, *, node: str, entered: Any, **extra: Any) -> Any:
    assert journey.live_version is not None
    fields: dict[str, Any] = {
        "project": journey.project,
        "journey": journey,
        "version": journey.live_version,
        "profile": ProfileFactory(project=journey.project, external_id=profile_id),
        "node": node,
        "state": Enrollment.State.ACTIVE,
        "entered_at": entered,
        "node_entered_at": entered,
    }
    fields.update(extra)
    return Enrollment.objects.create(**fields)


def summary(page: Any) -> dict[str, str]:
    """The journey summary above the canvas as {term: value}."""
    items = page.get_by_role("region", name="Journey stats").locator(".summary-item")
    pairs = [text.strip().split("\n", 1) for text in items.all_inner_texts()]
    return {p[0].strip().title(): p[1].strip() for p in pairs if len(p) == 2}


def summary_is(page: Any, term: str, value: str) -> dict[str, str]:
    got = wait_for(lambda: (s := summary(page)).get(term) == value and s, timeout=15)
    assert got, summary(page)
    return got


def summary_becomes(page: Any, expected: dict[str, str]) -> None:
    """Wait until the summary is exactly ``expected`` (frames pass through others as typed)."""
    assert wait_for(lambda: summary(page) == expected, timeout=15), summary(page)


def test_a_block_count_changes_live_while_events_come_in_without_a_reload(
    open_as: Callable[..., Any], marketer: Any, project: Project, live_server: Any
) -> None:
    journey = live_cart(project, marketer)
    page = open_as(marketer, f"/journeys/{journey.pk}/")
    wait = block(page, "Wait an hour")
    wait.filter(has_text="0 users").wait_for()
    summary_is(page, "Entry", "0")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    send_events(live_server, project, [{"profile_id": "u-42", "name": "Added To Cart"}])
    run_inline("inbox", (project.pk,))  # what the worker does with the new events
    moved = time.monotonic()
    assert wait_for(
        lambda: api_get(page, f"/api/v1/journeys/{journey.pk}/occupancy")["nodes"]["wait"] == 1
    )
    wait.filter(has_text="1 user").wait_for(timeout=10_000)
    seen_after = time.monotonic() - moved
    # The test server has no websocket: the canvas falls back to the occupancy API every 2 s
    # (plus the test database's latency), and says so.
    assert seen_after < 4.5, seen_after
    assert page.evaluate("window.__sameDocument === true")
    page.get_by_role("status").filter(has_text="Live numbers (refreshed every 2 s)").wait_for()
    # The historical figures follow within their 30 s refresh; a frame change asks at once.
    page.get_by_label("Time frame").select_option("today")
    summary_is(page, "Entry", "1")
    block(page, "Cart").filter(has_text="Entered 1").wait_for()
    shot(page, "canvas-live-count")


def test_the_numbers_are_marked_stale_while_the_server_cannot_be_reached(
    open_as: Callable[..., Any], marketer: Any, project: Project
) -> None:
    journey = live_cart(project, marketer)
    page = open_as(marketer, f"/journeys/{journey.pk}/")
    status = page.get_by_role("status").filter(has_text="Live numbers")
    status.filter(has_text="refreshed every 2 s").wait_for()
    page.route(re.compile(r".*/occupancy$"), lambda route: route.abort())
    page.get_by_text("Live numbers paused — reconnecting…").wait_for(timeout=10_000)
    shot(page, "canvas-live-paused")
    page.unroute(re.compile(r".*/occupancy$"))
    status.filter(has_text="refreshed every 2 s").wait_for(timeout=10_000)
    assert page.get_by_text("Live numbers paused").count() == 0


def test_the_time_frame_picker_changes_the_summary_and_the_block_figures(
    open_as: Callable[..., Any], marketer: Any, project: Project
) -> None:
    journey = live_cart(project, marketer)
    now = timezone.now()
    # One user entered 10 days ago and met the goal at the push a day later; one today.
    enroll(
        journey,
        "old",
        node="push1",
        entered=now - timedelta(days=10),
        state=Enrollment.State.EXITED,
        exited_at=now - timedelta(days=9),
        exit_reason="goal_met",
        exit_node="push1",
    )
    enroll(
        journey,
        "new",
        node="wait",
        entered=now - timedelta(minutes=5),
        node_state=Enrollment.NodeState.WAITING,
        wake_at=now + timedelta(minutes=55),
    )
    page = open_as(marketer, f"/journeys/{journey.pk}/")
    frame = page.get_by_label("Time frame")
    assert frame.input_value() == "all"
    got = summary_is(page, "Entry", "2")
    assert got == {"Entry": "2", "Goal Met": "1", "Time Out": "0", "Conversion %": "50 %"}
    block(page, "Cart").filter(has_text="Entered 2").wait_for()
    push = block(page, "Mobile Push")
    push.filter(has_text="Goal Met 1").wait_for()
    assert block(page, "Wait an hour").get_by_text("stuck").count() == 0  # 5 of its 60 min
    shot(page, "canvas-stats-all-time")

    frame.select_option("today")
    got = summary_is(page, "Entry", "1")
    assert got == {"Entry": "1", "Goal Met": "0", "Time Out": "0", "Conversion %": "0 %"}
    push.filter(has_text="Goal Met 0").wait_for()

    frame.select_option("custom")
    ten_days_ago = (now - timedelta(days=10)).date().isoformat()
    page.get_by_label("From", exact=True).fill(ten_days_ago)
    nine_days_ago = (now - timedelta(days=9)).date().isoformat()
    page.get_by_label("To", exact=True).fill(nine_days_ago)  # the old user's entry and goal
    summary_becomes(page, {"Entry": "1", "Goal Met": "1", "Time Out": "0", "Conversion %": "100 %"})
    page.get_by_label("To", exact=True).fill(ten_days_ago)  # the entry, not the goal
    summary_becomes(page, {"Entry": "1", "Goal Met": "0", "Time Out": "0", "Conversion %": "0 %"})
    # Dates out of order are refused where they are typed, not sent.
    page.get_by_label("To", exact=True).fill((now - timedelta(days=20)).date().isoformat())
    page.get_by_role("alert").filter(has_text="The To date is before the From date").wait_for()
    assert push.locator(".block-stats").count() == 0  # no figures of another frame meanwhile


def test_details_open_from_a_segment_and_a_message_block_and_stuck_users_are_flagged(
    open_as: Callable[..., Any], viewer: Any, marketer: Any, project: Project
) -> None:
    journey = live_cart(project, marketer)
    # Waiting at a one-hour delay for three hours: stuck.
    three_hours_ago = timezone.now() - timedelta(hours=3)
    enroll(
        journey,
        "late",
        node="wait",
        entered=three_hours_ago,
        node_state=Enrollment.NodeState.WAITING,
        wake_at=three_hours_ago + timedelta(hours=1),
    )
    page = open_as(viewer, f"/journeys/{journey.pk}/")  # any member, read-only
    wait = block(page, "Wait an hour")
    stuck = wait.get_by_role("link", name=re.compile("1 stuck"))
    stuck.wait_for()
    assert "waited 3 h, expected 1 h" in stuck.inner_text()
    assert stuck.get_attribute("href") == f"/journeys/{journey.pk}/report#stuck-h"
    assert (
        page.get_by_role("link", name="⚠ 1 stuck", exact=True).count() == 1
    )  # the total, in the bar
    assert page.get_by_role("button", name="Publish").count() == 0  # still read-only
    shot(page, "canvas-stuck-and-details")

    bought = block(page, "Bought?")
    # Per-path counts under the yes / no handles, and in words for screen readers.
    assert (
        "Paths: yes 0, no 0"
        in bought.get_by_role("link", name=re.compile("^Evaluated")).inner_text()
    )
    bought.get_by_role("link", name="Details").click()
    page.wait_for_url(f"**/journeys/{journey.pk}/blocks/paid/segment")
    assert "Bought?" in page.content()
    page.go_back()
    block(page, "Mobile Push").get_by_role("link", name="Details").click()
    page.wait_for_url(f"**/journeys/{journey.pk}/blocks/push1/campaign")
    page.go_back()
    # The figure itself is a way in too; a delay block has no details page.
    block(page, "Cart").get_by_role("link", name=re.compile("^Entered")).click()
    page.wait_for_url(f"**/journeys/{journey.pk}/blocks/entry/segment")
    page.go_back()
    assert block(page, "Wait an hour").get_by_role("link", name="Details").count() == 0


# --- over a real websocket: daphne in another process (PostgreSQL only) ------------------------


class Daphne:
    """The ASGI app under daphne on a fixed port, against the test database, with no
    REDIS_URL (the embedded default); stopped and started again to play a server restart."""

    def __init__(self, tmp_path: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.tmp_path = tmp_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        env.update(
            DJANGO_SETTINGS_MODULE="journeys_site.settings",
            DATABASE_URL=_test_database_url(),
            DJANGO_SECRET_KEY=settings.SECRET_KEY,  # the test's session cookie is valid there
            JOURNEYS_VAR_DIR=str(self.tmp_path / "var"),
            PYTHONUNBUFFERED="1",
        )
        log = self.tmp_path / "daphne.log"
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "daphne", "-b", "127.0.0.1"),
                    *("-p", str(self.port), "journeys_site.asgi:application"),
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"daphne exited:\n{log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{self.base}/login/", timeout=1)
                return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"daphne not up after 30 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None


@pytest.fixture
def daphne(tmp_path: Path) -> Iterator[Daphne]:
    server = Daphne(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.skipif(
    not settings.DATABASE_IS_POSTGRES,
    reason="needs DATABASE_URL=postgres://... (the server process shares the test database)",
)
def test_over_the_websocket_counts_arrive_within_2_s_and_survive_a_server_restart(
    browser: Any, daphne: Daphne, marketer: Any, project: Project
) -> None:
    try:
        journey = live_cart(project, marketer)
        daphne.start()
        client = Client()
        client.force_login(marketer)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": daphne.base}]
        )
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{daphne.base}/journeys/{journey.pk}/")
        live = page.locator(".live-state")
        page.locator(".live-live").wait_for()
        assert live.inner_text().strip() == "Live numbers"
        wait = block(page, "Wait an hour")
        wait.filter(has_text="0 users").wait_for()

        moved = time.monotonic()
        enroll(journey, "u-1", node="wait", entered=timezone.now())  # as a worker would
        wait.filter(has_text="1 user").wait_for(timeout=5_000)
        assert time.monotonic() - moved < 2
        wait.filter(has_text="Entered 1").wait_for(timeout=10_000)  # the figures follow
        shot(page, "canvas-websocket-live")

        daphne.stop()  # a server restart
        page.get_by_text("Live numbers paused — reconnecting…").wait_for(timeout=10_000)
        shot(page, "canvas-websocket-paused")
        daphne.start()
        page.locator(".live-live").wait_for(timeout=40_000)  # reconnected by itself
        assert page.get_by_text("Live numbers paused").count() == 0
        enroll(journey, "u-2", node="wait", entered=timezone.now())
        moved = time.monotonic()
        wait.filter(has_text="2 users").wait_for(timeout=5_000)
        assert time.monotonic() - moved < 2
        context.close()
    finally:
        connection.close()  # the ORM's connection under Playwright's loop


def test_today_starts_at_midnight_in_the_projects_time_zone(
    open_as: Callable[..., Any], marketer: Any, project: Project
) -> None:
    from zoneinfo import ZoneInfo

    project.timezone = "America/Los_Angeles"
    project.save(update_fields=["timezone"])
    journey = live_cart(project, marketer)
    now = timezone.now()
    midnight = now.astimezone(ZoneInfo(project.timezone)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    # One entered a minute before the project's day began, one a minute after: counted
    # from UTC's midnight (8 hours away) both or neither would be "today".
    for name, at in (("before", midnight - timedelta(minutes=1)), ("after", midnight)):
        enroll(
            journey,
            name,
            node="wait",
            entered=at + timedelta(seconds=30),
            node_state=Enrollment.NodeState.WAITING,
            wake_at=now + timedelta(minutes=30),
        )
    page = open_as(marketer, f"/journeys/{journey.pk}/")
    page.get_by_text("America/Los_Angeles", exact=True).wait_for()  # beside the picker
    summary_is(page, "Entry", "2")
    page.get_by_label("Time frame").select_option("today")
    summary_becomes(page, {"Entry": "1", "Goal Met": "0", "Time Out": "0", "Conversion %": "0 %"})
