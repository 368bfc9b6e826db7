"""Issue 12 item 3: a Past Behaviour journey's start enters its batches on two database
connections side by side (PostgreSQL), each user once, and a start stops entering as
soon as the journey is no longer live (the enrollments' journey carries no database
foreign key; ``entries.enroll`` holds the journey's row instead)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from engine import entries
from engine.models import Enrollment
from engine.work import run_inline
from tests.engine.flows.conftest import define, delay

WATCHED = {
    "type": "past_behaviour",
    "window_days": 30,
    "match": "all",
    "conditions": [{"kind": "did", "event": "Video Watched"}],
}
PEOPLE = [f"u{i}" for i in range(9)]


@pytest.fixture
def watchers(engine: Any) -> Any:
    for pid in PEOPLE:
        engine.track_at(pid, "Video Watched", timezone.now() - timedelta(hours=2))
    engine.profile("idle")
    return engine


def waiting(journey: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    rows = Enrollment.objects.filter(journey=journey, state="active", node="wait")
    for e in rows.select_related("profile"):
        out[e.profile.external_id] = out.get(e.profile.external_id, 0) + 1
    return out


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite takes one writer at a time")
def test_the_start_enters_its_batches_on_two_connections_each_user_once(
    watchers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = watchers
    monkeypatch.setattr(entries, "ENTRY_BATCH", 2)
    monkeypatch.setattr(entries, "ENTRY_WORKERS", 2)
    enter_batch = entries._enter_batch
    backends: dict[int, list[int]] = {}
    arrived: set[int] = set()

    def spy(live: Any, batch: list[tuple[int, Any]], now: Any) -> Any:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        backends.setdefault(pid, []).extend(p for p, _ in batch)
        # A connection's first batch waits (up to about 10 s of real time; the test's
        # clock is frozen) for a second connection to take one: so both enter batches
        # at the same time, and the test fails below if no second connection comes.
        arrived.add(pid)
        for _ in range(1000):
            if len(arrived) >= 2:
                break
            time.sleep(0.01)
        return enter_batch(live, batch, now)

    monkeypatch.setattr(entries, "_enter_batch", spy)
    journey = engine.publish(define(WATCHED, [delay("wait", "P1D")], [("entry", "wait")]))
    with engine._capture(execute=True):
        assert run_inline("entry_check", (journey.id,)) == len(PEOPLE)

    assert len(backends) == 2
    entered = [pid for batch in backends.values() for pid in batch]
    assert len(entered) == len(set(entered)) == len(PEOPLE)  # each profile in one batch
    assert waiting(journey) == dict.fromkeys(PEOPLE, 1)
    # The same check again (a redelivered task): nobody enters twice.
    with engine._capture(execute=True):
        assert run_inline("entry_check", (journey.id,)) == 0
    assert waiting(journey) == dict.fromkeys(PEOPLE, 1)


@pytest.mark.django_db
def test_a_start_stops_entering_once_the_journey_is_stopped(
    watchers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = watchers
    monkeypatch.setattr(entries, "ENTRY_BATCH", 2)
    monkeypatch.setattr(entries, "ENTRY_WORKERS", 1)
    journey = engine.publish(define(WATCHED, [delay("wait", "P1D")], [("entry", "wait")]))
    enroll = entries.enroll
    calls: list[int] = []

    def stop_after_the_first_batch(*args: Any, **kwargs: Any) -> list[int]:
        calls.append(len(args[1]))
        ids = enroll(*args, **kwargs)
        if len(calls) == 1:
            engine.lifecycle("stop", journey)  # the marketer stops it mid-start
        return ids

    monkeypatch.setattr(entries, "enroll", stop_after_the_first_batch)
    with engine._capture(execute=True):
        assert run_inline("entry_check", (journey.id,)) == 2
    # The batch after the stop entered nobody, and the check went no further.
    assert calls == [2, 2]
    stays = Enrollment.objects.filter(journey=journey)
    assert stays.count() == 2
    assert set(stays.values_list("state", "exit_reason")) == {("exited", "stopped")}


@pytest.mark.django_db
def test_a_profile_deleted_before_its_batch_is_not_let_in(watchers: Any) -> None:
    """The enrollment's profile carries no database constraint: the batch locks the
    profiles it enters and skips one that no longer exists (it failed the whole batch)."""
    from engine import loaders
    from engine.models import Profile

    engine = watchers
    journey = engine.publish(define(WATCHED, [delay("wait", "P1D")], [("entry", "wait")]))
    live = loaders.trigger_index(engine.project.id, fresh=True).journeys[journey.id]
    kept = Profile.objects.get(project=engine.project, external_id="u0")
    gone = Profile.objects.get(project=engine.project, external_id="u1")
    gone_id = gone.pk
    gone.delete()
    with engine._capture(execute=True):
        entered = entries.enroll(live, {kept.pk: None, gone_id: None}, timezone.now())
    assert len(entered) == 1
    assert list(
        Enrollment.objects.filter(journey=journey).values_list("profile_id", flat=True)
    ) == [kept.pk]
