"""What a page reports about an in-app message (engine/in_app.py ``message_report``) is one
UPDATE each: the status moves only forward on the row as the database holds it, the counts
and first times are added to ``delivery`` beside the other facts, and the events come once.
A ``viewed`` racing a ``clicked`` never moves the message back to ``opened`` (SQLite and
PostgreSQL; real threads on PostgreSQL)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection, connections, transaction
from django.utils import timezone

from engine import in_app
from engine.models import Event, Message, Profile
from tests.engine.delivery.conftest import MakeMessage
from tests.engine.test_ingest_concurrency import run_together
from tests.factories import ProfileFactory

NOON = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
RENDERED = {
    "title": "Hi Ana",
    "body": "Your cart misses you",
    "button_text": "See cart",
    "button_url": "https://shop.example.com/cart",
    "expires_at": "2030-01-01T00:00:00+00:00",
}
HANDED = {"stored": True, "delivered_at": "2026-12-03T11:59:00+00:00"}


def shown(make_message: MakeMessage) -> tuple[Message, in_app.Listener]:
    """An in-app message handed to an open page (``delivered``) and that page's listener."""
    from engine.models import Project

    project = Project.objects.get(name="Shop")
    profile = ProfileFactory(project=project, external_id=f"u-{Profile.objects.count()}")
    message = make_message(
        "in_app",
        dict(RENDERED),
        profile=profile,
        status=Message.Status.DELIVERED,
        delivery=dict(HANDED),
    )
    return message, in_app.Listener(project.pk, profile.external_id)


def report(listener: in_app.Listener, message: Message, action: str) -> bool:
    return in_app.message_report(listener=listener, message_id=message.pk, action=action)


def names(message: Message) -> list[str]:
    return sorted(
        Event.objects.filter(profile_id=message.profile_id).values_list("name", flat=True)
    )


@pytest.mark.django_db
def test_reports_are_counted_beside_the_other_facts_with_their_first_times(
    make_message: MakeMessage,
) -> None:
    message, listener = shown(make_message)
    with time_machine.travel(NOON, tick=False):
        assert report(listener, message, "viewed")
    with time_machine.travel(NOON + timedelta(minutes=1), tick=False):
        assert report(listener, message, "viewed")
        assert report(listener, message, "clicked")
    with time_machine.travel(NOON + timedelta(minutes=2), tick=False):
        assert report(listener, message, "viewed")  # late: no step back
        assert report(listener, message, "clicked")
        assert report(listener, message, "dismissed")

    message.refresh_from_db()
    assert message.status == Message.Status.CLICKED
    assert message.delivery == {
        **HANDED,
        "views": 3,
        "clicks": 2,
        "dismissals": 1,
        "viewed_at": NOON.isoformat(),
        "clicked_at": (NOON + timedelta(minutes=1)).isoformat(),
        "dismissed_at": (NOON + timedelta(minutes=2)).isoformat(),
    }
    assert names(message) == ["Notification Clicked", "Notification Viewed"]


@pytest.mark.django_db
def test_a_dismissal_changes_no_status_and_a_stranger_changes_nothing(
    make_message: MakeMessage,
) -> None:
    message, listener = shown(make_message)
    _other, stranger = shown(make_message)
    assert report(listener, message, "dismissed")
    assert not report(stranger, message, "clicked")
    assert not report(listener, message, "opened")

    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert message.delivery["dismissals"] == 1
    assert "clicks" not in message.delivery
    assert names(message) == []


@pytest.mark.django_db
def test_a_click_landing_between_a_views_read_and_its_write_is_not_undone(
    make_message: MakeMessage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race, made deterministic: the ``viewed`` has read the message (``delivered``)
    when a ``clicked`` from another page is recorded, before the ``viewed`` writes. The
    old code wrote ``opened`` and its stale copy of ``delivery`` over the click."""
    message, listener = shown(make_message)
    clicked_meanwhile: list[bool] = []

    class Clock:
        @staticmethod
        def now() -> datetime:
            if not clicked_meanwhile:  # the viewed report, after its read
                clicked_meanwhile.append(True)
                monkeypatch.setattr(in_app, "timezone", timezone)
                assert report(listener, message, "clicked")
            return timezone.now()

    monkeypatch.setattr(in_app, "timezone", Clock)
    assert report(listener, message, "viewed")

    assert clicked_meanwhile
    message.refresh_from_db()
    assert message.status == Message.Status.CLICKED
    assert (message.delivery["views"], message.delivery["clicks"]) == (1, 1)
    assert {"viewed_at", "clicked_at", "delivered_at"} <= set(message.delivery)
    assert names(message) == ["Notification Clicked", "Notification Viewed"]


pg_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="real concurrent writers need PostgreSQL"
)


def reporter(listener: in_app.Listener, message: Message, action: str) -> Any:
    return lambda: report(listener, message, action)


def waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def run_queued_behind_a_lock(message: Message, jobs: list[Any]) -> list[Any]:
    """Run the jobs at once while another transaction holds the message's row, and let it
    go once every job waits for it: each job has read the message by then, so each write
    lands on a row changed since (the widest form of the race; free threads hit it in
    about one round in ten)."""
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                Message.objects.select_for_update().get(pk=message.pk)
                locked.set()
                release.wait(timeout=20)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(timeout=10)
    results: list[Any] = []
    runner = threading.Thread(target=lambda: results.extend(run_together(*jobs)))
    runner.start()
    deadline = time.monotonic() + 15
    while waiting_on_locks() < len(jobs) and time.monotonic() < deadline:
        time.sleep(0.02)
    release.set()
    holder.join(timeout=20)
    runner.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
@pg_only
def test_ten_views_and_ten_clicks_at_once_end_clicked_all_counted_events_once(
    make_message: MakeMessage,
) -> None:
    for queued in (True, False, False, False):
        message, listener = shown(make_message)
        jobs = []
        for _ in range(10):
            jobs += [reporter(listener, message, "viewed"), reporter(listener, message, "clicked")]

        answers = run_queued_behind_a_lock(message, jobs) if queued else run_together(*jobs)

        assert answers == [True] * 20, answers
        message.refresh_from_db()
        assert message.status == Message.Status.CLICKED
        assert {"viewed_at", "clicked_at", "delivered_at", "stored"} <= set(message.delivery)
        assert (message.delivery["views"], message.delivery["clicks"]) == (10, 10)
        assert names(message) == ["Notification Clicked", "Notification Viewed"]


@pytest.mark.django_db(transaction=True)
@pg_only
def test_twenty_views_at_once_count_twenty_and_make_one_event(
    make_message: MakeMessage,
) -> None:
    message, listener = shown(make_message)

    answers = run_together(*[reporter(listener, message, "viewed") for _ in range(20)])

    assert answers == [True] * 20, answers
    message.refresh_from_db()
    assert message.status == Message.Status.OPENED
    assert message.delivery["views"] == 20
    assert names(message) == ["Notification Viewed"]
