"""Concurrent ingest on PostgreSQL: the database, not a check-then-insert, dedupes events."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections
from django.db.models import Count
from rest_framework.test import APIClient

from engine.models import Event, Profile, Project
from tests.factories import ProjectFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="real concurrent writers need PostgreSQL"
    ),
]


def run_together(*jobs: Callable[[], Any]) -> list[Any]:
    """Run each job in its own thread (own connection), released at the same moment."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def worker(position: int, job: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[position] = job()
        except Exception as exc:
            results[position] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def poster(project: Project, events: list[dict[str, Any]]) -> Callable[[], Any]:
    def post() -> Any:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {project.ingest_key}")
        response = client.post("/api/v1/events", {"events": events}, format="json")
        return response.status_code, response.json()

    return post


def batch(prefix: str, count: int, profiles: int = 20) -> list[dict[str, Any]]:
    return [
        {"id": f"{prefix}-{i}", "profile_id": f"u-{i % profiles}", "name": "Viewed"}
        for i in range(count)
    ]


def test_two_requests_racing_with_the_same_ids_store_each_event_once() -> None:
    project = ProjectFactory()
    for round_number in range(5):
        events = batch(f"r{round_number}", 300)
        results = run_together(poster(project, events), poster(project, events))
        assert all(not isinstance(r, Exception) for r in results), results
        assert [status for status, _ in results] == [202, 202], results
        accepted = sum(body["accepted"] for _, body in results)
        duplicates = sum(body["duplicates"] for _, body in results)
        assert (accepted, duplicates) == (300, 300)

    assert Event.objects.filter(project=project).count() == 1500
    assert not (Event.objects.values("client_id").annotate(n=Count("id")).filter(n__gt=1).exists())
    # Profiles named by both requests were created once too.
    assert Profile.objects.filter(project=project).count() == 20


def test_four_requests_racing_on_new_profiles_create_each_profile_once() -> None:
    project = ProjectFactory()
    events = [{"profile_id": f"new-{i}", "name": "Signed Up"} for i in range(100)]
    results = run_together(*(poster(project, events) for _ in range(4)))
    assert [r[0] for r in results] == [202] * 4, results
    assert Profile.objects.filter(project=project).count() == 100
    # Events without an id are stored every time.
    assert Event.objects.filter(project=project).count() == 400


def test_two_requests_with_the_same_ids_in_opposite_orders_both_succeed() -> None:
    # A client may retry a batch reordered (or two SDK tabs flush overlapping queues):
    # the inserts must not deadlock into a 500.
    project = ProjectFactory()
    # Profiles exist already, so the two requests race on the event rows themselves.
    assert poster(project, batch("warm-up", 20))()[0] == 202
    for round_number in range(5):
        events = batch(f"o{round_number}", 300)
        results = run_together(poster(project, events), poster(project, list(reversed(events))))
        assert all(not isinstance(r, Exception) for r in results), results
        assert [status for status, _ in results] == [202, 202], results
        assert sum(body["accepted"] for _, body in results) == 300
    assert Event.objects.filter(project=project).count() == 1520
