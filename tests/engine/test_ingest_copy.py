"""Ingest's bulk write (engine/event_store.py): COPY on PostgreSQL, INSERT elsewhere.

Same guarantees on both paths: duplicates (stored or within the batch) are not stored
again, the inbox row names exactly the new events, and text COPY would otherwise
mangle (tabs, newlines, backslashes, ``\\N``) is stored as sent. On PostgreSQL a client
id committed by a concurrent request between the check and the COPY sends the batch
once more through INSERT ... ON CONFLICT, with the same answer.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest
from django.db import connection
from rest_framework.test import APIClient

from engine import event_store
from engine.models import Event, EventInbox, Project
from tests.factories import ProjectFactory

ODD = "tab\there, line\nbreak, back\\slash, \\N, carriage\rreturn, é ✓"


def post(project: Project, events: list[dict[str, Any]]) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {project.ingest_key}")
    return client.post("/api/v1/events", {"events": events}, format="json")


@pytest.mark.django_db
def test_the_inbox_row_names_exactly_the_new_events_and_duplicates_are_skipped() -> None:
    project = ProjectFactory()
    first = post(project, [{"id": f"e-{i}", "profile_id": "u-1", "name": "A"} for i in range(5)])
    assert first.json() == {"accepted": 5, "duplicates": 0}
    # Two stored ids, one id twice in the batch, one event without an id.
    second = post(
        project,
        [
            {"id": "e-0", "profile_id": "u-1", "name": "A"},
            {"id": "e-9", "profile_id": "u-2", "name": "B"},
            {"id": "e-9", "profile_id": "u-2", "name": "B"},
            {"id": "e-4", "profile_id": "u-1", "name": "A"},
            {"profile_id": "u-3", "name": "C"},
        ],
    )
    assert second.status_code == 202
    assert second.json() == {"accepted": 2, "duplicates": 3}
    stored = set(Event.objects.filter(project=project).values_list("id", flat=True))
    assert len(stored) == 7
    inboxed = [id_ for row in EventInbox.objects.order_by("id") for id_ in row.event_ids]
    assert sorted(inboxed) == sorted(stored)
    assert len(inboxed) == 7


@pytest.mark.django_db
def test_text_copy_would_mangle_is_stored_as_sent() -> None:
    project = ProjectFactory()
    response = post(
        project,
        [
            {
                "id": f"id {ODD}",
                "profile_id": "u-odd",
                "name": f"name {ODD}",
                "ts": "2026-11-28T12:00:00.123456+05:30",
                "properties": {ODD: ODD, "n": [1, 2.5, None, True], "nested": {"x": ODD}},
            }
        ],
    )
    assert response.status_code == 202, response.content
    stored = Event.objects.get(project=project)
    assert stored.name == f"name {ODD}"
    assert stored.client_id == f"id {ODD}"
    assert stored.properties == {ODD: ODD, "n": [1, 2.5, None, True], "nested": {"x": ODD}}
    assert stored.ts.isoformat(timespec="microseconds").startswith("2026-11-28T06:30:00.123456")
    again = post(project, [{"id": f"id {ODD}", "profile_id": "u-odd", "name": "x"}])
    assert again.json() == {"accepted": 0, "duplicates": 1}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_an_id_committed_by_another_request_during_the_copy_is_a_duplicate() -> None:
    project = ProjectFactory()
    post(project, [{"id": "warm", "profile_id": "u-1", "name": "A"}])
    profile_id = Event.objects.get(client_id="warm").profile_id
    settings = connection.get_connection_params()
    other = psycopg.connect(**settings)
    # Another writer holds "race-1" uncommitted: the check does not see it, the COPY
    # waits on its unique-index entry and fails once it commits.
    other.execute(
        "INSERT INTO engine_event (project_id, profile_id, name, ts, properties, client_id,"
        " received_at) VALUES (%s, %s, 'A', now(), '{}', 'race-1', now())",
        [project.pk, profile_id],
    )
    calls: list[bool] = []
    store = event_store.store

    def spy(*args: Any, copy: bool, **kwargs: Any) -> list[int]:
        calls.append(copy)
        return store(*args, copy=copy, **kwargs)

    def commit_soon() -> None:
        time.sleep(1.0)
        other.commit()

    committer = threading.Thread(target=commit_soon)
    committer.start()
    try:
        event_store.store = spy  # type: ignore[assignment]
        response = post(
            project,
            [{"id": f"race-{i}", "profile_id": "u-1", "name": "A"} for i in range(3)],
        )
    finally:
        event_store.store = store  # type: ignore[assignment]
        committer.join()
        other.close()
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 2, "duplicates": 1}
    assert calls == [True, False]  # the COPY was refused, the INSERT path answered
    assert Event.objects.filter(project=project, client_id__startswith="race-").count() == 3
    inboxed = [id_ for row in EventInbox.objects.filter(project=project) for id_ in row.event_ids]
    assert len(inboxed) == 1 + 2  # warm-up and the two new ones, never the refused batch
