"""Journey lifecycle: every transition allowed and refused, scheduling, end time, stopping, signals."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from builder import services
from builder.models import Journey
from builder.signals import journey_changed
from engine.models import Enrollment, Step
from tests.engine.domain.examples import contract_example


def scheduled_definition(start: datetime, end: datetime | None = None) -> dict[str, Any]:
    definition = contract_example()
    definition["settings"]["start_at"] = start.isoformat().replace("+00:00", "Z")
    definition["settings"]["end_at"] = end.isoformat().replace("+00:00", "Z") if end else None
    return definition


@pytest.fixture
def journey_in(make_journey: Callable[..., Journey]) -> Callable[[str], Journey]:
    def make(status: str) -> Journey:
        if status == "scheduled":
            start = timezone.now() + timedelta(days=3)
            journey = make_journey(definition=scheduled_definition(start))
            journey = services.journey_publish(journey=journey, user=None)
            assert journey.status == "scheduled"
            return journey
        return make_journey(status=status)

    return make


# (status before, action) -> (HTTP status, status after); 204 = deleted.
TRANSITIONS = {
    ("draft", "publish"): (200, "live"),
    ("draft", "pause"): (409, "draft"),
    ("draft", "resume"): (409, "draft"),
    ("draft", "stop"): (409, "draft"),
    ("draft", "delete"): (204, None),
    ("scheduled", "publish"): (200, "scheduled"),
    ("scheduled", "pause"): (200, "paused"),
    ("scheduled", "resume"): (200, "scheduled"),
    ("scheduled", "stop"): (200, "stopped"),
    ("scheduled", "delete"): (409, "scheduled"),
    ("live", "publish"): (200, "live"),
    ("live", "pause"): (200, "paused"),
    ("live", "resume"): (200, "live"),
    ("live", "stop"): (200, "stopped"),
    ("live", "delete"): (409, "live"),
    ("paused", "publish"): (200, "paused"),
    ("paused", "pause"): (200, "paused"),
    ("paused", "resume"): (200, "live"),
    ("paused", "stop"): (200, "stopped"),
    ("paused", "delete"): (409, "paused"),
    ("stopped", "publish"): (409, "stopped"),
    ("stopped", "pause"): (409, "stopped"),
    ("stopped", "resume"): (409, "stopped"),
    ("stopped", "stop"): (200, "stopped"),
    ("stopped", "delete"): (204, None),
}


@pytest.mark.parametrize(("before", "action"), list(TRANSITIONS))
def test_each_action_in_each_status_is_allowed_or_refused_with_409(
    api: APIClient, journey_in: Callable[[str], Journey], before: str, action: str
) -> None:
    journey = journey_in(before)
    code, after = TRANSITIONS[(before, action)]

    if action == "delete":
        response = api.delete(f"/api/v1/journeys/{journey.pk}")
    else:
        response = api.post(f"/api/v1/journeys/{journey.pk}/{action}")

    assert response.status_code == code, response.content
    if code == 409:
        assert response.json()["status"] == before
        assert response.json()["detail"]
    if code == 200:
        assert response.json()["status"] == after
        assert response.json()["id"] == journey.pk
    if after is None:
        assert not Journey.objects.filter(pk=journey.pk).exists()
    else:
        assert Journey.objects.get(pk=journey.pk).status == after


def test_publishing_with_a_future_start_schedules_and_copies_start_and_end(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    start = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
    end = datetime(2030, 2, 1, 9, 0, tzinfo=UTC)
    journey = make_journey(definition=scheduled_definition(start, end))

    with time_machine.travel(datetime(2029, 12, 31, tzinfo=UTC), tick=False):
        response = api.post(f"/api/v1/journeys/{journey.pk}/publish")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "scheduled"
    assert body["start_at"] == "2030-01-01T09:00:00Z"
    assert body["end_at"] == "2030-02-01T09:00:00Z"
    journey.refresh_from_db()
    assert (journey.start_at, journey.end_at) == (start, end)


def test_publishing_when_the_start_has_passed_goes_live(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    journey = make_journey(definition=scheduled_definition(start))

    with time_machine.travel(datetime(2030, 1, 2, tzinfo=UTC), tick=False):
        response = api.post(f"/api/v1/journeys/{journey.pk}/publish")

    assert response.json()["status"] == "live"
    assert response.json()["published_at"] == "2030-01-02T00:00:00Z"


def test_resuming_before_the_start_goes_back_to_scheduled_and_after_it_goes_live(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey(definition=scheduled_definition(datetime(2030, 1, 1, tzinfo=UTC)))
    with time_machine.travel(datetime(2029, 6, 1, tzinfo=UTC), tick=False):
        api.post(f"/api/v1/journeys/{journey.pk}/publish")
        api.post(f"/api/v1/journeys/{journey.pk}/pause")
        early = api.post(f"/api/v1/journeys/{journey.pk}/resume")
        api.post(f"/api/v1/journeys/{journey.pk}/pause")
    with time_machine.travel(datetime(2030, 6, 1, tzinfo=UTC), tick=False):
        late = api.post(f"/api/v1/journeys/{journey.pk}/resume")

    assert early.json()["status"] == "scheduled"
    assert late.json()["status"] == "live"


def test_an_end_time_that_has_passed_cannot_be_published(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey(
        definition=scheduled_definition(
            datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC)
        )
    )

    response = api.post(f"/api/v1/journeys/{journey.pk}/publish")

    assert response.status_code == 400
    assert response.json()["definition"][0]["path"] == "settings.end_at"
    assert Journey.objects.get(pk=journey.pk).status == "draft"


def test_publish_revalidates_and_refuses_a_draft_that_cannot_run(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey()
    broken = contract_example()
    broken["nodes"][0]["duration"] = "soon"
    Journey.objects.filter(pk=journey.pk).update(definition=broken, definition_text="")

    response = api.post(f"/api/v1/journeys/{journey.pk}/publish")

    assert response.status_code == 400
    assert response.json()["definition"][0]["path"] == "nodes[0].duration"
    assert Journey.objects.get(pk=journey.pk).live_version is None


def test_stopping_exits_everyone_where_they_are_and_cancels_candidates(
    api: APIClient,
    make_journey: Callable[..., Journey],
    enroll: Callable[..., Enrollment],
) -> None:
    journey = make_journey(status="live")
    waiting = enroll(journey, "wait", wake_at=timezone.now() + timedelta(minutes=5), revision=3)
    at_push = enroll(journey, "push1")
    candidate = enroll(journey, "entry", state="candidate", wake_at=timezone.now())
    gone = enroll(journey, "mail", state="exited", exit_reason="completed")
    stopped_at = datetime(2030, 5, 5, tzinfo=UTC)

    with time_machine.travel(stopped_at, tick=False):
        response = api.post(f"/api/v1/journeys/{journey.pk}/stop")

    assert response.status_code == 200
    assert response.json()["stopped_at"] == "2030-05-05T00:00:00Z"
    waiting.refresh_from_db()
    assert waiting.state == "exited"
    assert waiting.exit_reason == "stopped"
    assert waiting.exit_node == "wait"
    assert waiting.exited_at == stopped_at
    assert waiting.wake_at is None
    assert waiting.revision == 4
    at_push.refresh_from_db()
    assert (at_push.state, at_push.exit_node) == ("exited", "push1")
    candidate.refresh_from_db()
    assert candidate.state == "cancelled"
    assert candidate.wake_at is None
    gone.refresh_from_db()
    assert gone.exit_reason == "completed"
    step = Step.objects.get(enrollment=waiting)
    assert (step.node, step.outcome, step.detail) == ("wait", "exit", {"reason": "stopped"})
    assert step.left_at == stopped_at
    assert not Step.objects.filter(enrollment=gone).exists()


def test_a_stopped_journey_with_history_can_be_deleted(
    api: APIClient, make_journey: Callable[..., Journey], enroll: Callable[..., Enrollment]
) -> None:
    journey = make_journey(status="live")
    enroll(journey, "wait")
    api.post(f"/api/v1/journeys/{journey.pk}/stop")

    response = api.delete(f"/api/v1/journeys/{journey.pk}")

    assert response.status_code == 204
    assert not Enrollment.objects.exists()
    assert api.get(f"/api/v1/journeys/{journey.pk}").status_code == 404


def test_a_stopped_journey_cannot_be_edited_but_can_be_renamed(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey(status="stopped")
    definition = contract_example()
    definition["nodes"][0]["duration"] = "PT1H"

    edit = api.patch(f"/api/v1/journeys/{journey.pk}", {"definition": definition}, format="json")
    rename = api.patch(f"/api/v1/journeys/{journey.pk}", {"name": "Old"}, format="json")

    assert edit.status_code == 409
    assert edit.json()["status"] == "stopped"
    assert rename.status_code == 200


@pytest.fixture
def announcements() -> Iterator[list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        kwargs.pop("signal")
        sent.append(kwargs)

    journey_changed.connect(receiver)
    yield sent
    journey_changed.disconnect(receiver)


def test_journey_changed_is_sent_after_commit_on_every_change_of_what_runs(
    api: APIClient,
    make_journey: Callable[..., Journey],
    announcements: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    journey = make_journey()
    new = contract_example()
    new["nodes"][0]["duration"] = "PT1H"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        api.post(f"/api/v1/journeys/{journey.pk}/publish")
        api.post(f"/api/v1/journeys/{journey.pk}/publish")  # no-op: nothing sent
        api.post(f"/api/v1/journeys/{journey.pk}/pause")
        api.post(f"/api/v1/journeys/{journey.pk}/resume")
        api.patch(f"/api/v1/journeys/{journey.pk}", {"definition": new}, format="json")
        api.patch(f"/api/v1/journeys/{journey.pk}", {"name": "Renamed"}, format="json")
        api.post(f"/api/v1/journeys/{journey.pk}/stop")

    assert len(callbacks) == 5
    journey.refresh_from_db()
    versions = dict(journey.versions.values_list("number", "id"))
    assert announcements == [
        {"journey_id": journey.pk, "project_id": journey.project_id, "status": s, "version_id": v}
        for s, v in [
            ("live", versions[1]),
            ("paused", versions[1]),
            ("live", versions[1]),
            ("live", versions[2]),
            ("stopped", versions[2]),
        ]
    ]


def test_nothing_is_announced_when_the_transaction_rolls_back(
    api: APIClient,
    make_journey: Callable[..., Journey],
    announcements: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    journey = make_journey(status="live")
    new = contract_example()
    new["nodes"][0]["duration"] = "PT1H"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.patch(
            f"/api/v1/journeys/{journey.pk}",
            {"definition": new, "in_flight": {"wait": {"action": "fly"}}},
            format="json",
        )

    assert response.status_code == 400
    assert callbacks == []
    assert announcements == []


def test_a_past_behaviour_entry_is_due_for_evaluation_at_its_start(
    make_journey: Callable[..., Journey],
) -> None:
    definition = scheduled_definition(datetime(2030, 1, 1, tzinfo=UTC))
    definition["entry"] = {
        "id": "entry",
        "type": "past_behaviour",
        "window_days": 7,
        "conditions": [{"kind": "did", "event": "App Launched"}],
    }
    journey = make_journey(definition=definition)

    with time_machine.travel(datetime(2029, 1, 1, tzinfo=UTC), tick=False):
        journey = services.journey_publish(journey=journey, user=None)

    assert journey.next_entry_check_at == datetime(2030, 1, 1, tzinfo=UTC)
