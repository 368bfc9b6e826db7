"""Users in flight when a live journey is edited: the preview, keep / move / exit, candidates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from builder.models import Journey, JourneyVersion
from engine.models import Enrollment, Step
from tests.engine.domain.examples import contract_example

NOW = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


def edited() -> dict[str, Any]:
    """v2 of the contract example: 'wait' changed, 'mail' removed, 'push1' renamed only, an SMS added."""
    definition = contract_example()
    definition["nodes"][0]["duration"] = "PT30M"
    definition["nodes"][1]["name"] = "First push"
    definition["nodes"][3] = {"id": "sms1", "type": "sms", "body": "10% off"}
    definition["edges"][3] = {"from": "paid", "to": "sms1", "branch": "no"}
    return definition


@pytest.fixture
def live(make_journey: Callable[..., Journey]) -> Journey:
    return make_journey(status="live")


def publish_edit(api: APIClient, journey: Journey, in_flight: Any = None, **extra: Any) -> Any:
    body: dict[str, Any] = {"definition": edited(), **extra}
    if in_flight is not None:
        body["in_flight"] = in_flight
    with time_machine.travel(NOW, tick=False):
        return api.patch(f"/api/v1/journeys/{journey.pk}", body, format="json")


def test_preview_counts_users_at_each_changed_or_removed_block_and_lists_the_rest(
    api: APIClient, live: Journey, enroll: Callable[..., Enrollment]
) -> None:
    for _ in range(3):
        enroll(live, "wait")
    enroll(live, "mail")
    enroll(live, "push1")
    enroll(live, "wait", state="exited")
    enroll(live, "entry", state="candidate")

    response = api.post(
        f"/api/v1/journeys/{live.pk}/preview", {"definition": edited()}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    options = ["keep", "move", "exit"]
    assert body["changes"] == [
        {"node": "wait", "change": "changed", "users": 3, "options": options, "default": "keep"},
        {"node": "mail", "change": "removed", "users": 1, "options": options, "default": "keep"},
    ]
    assert body["unchanged"] == ["entry", "push1", "paid"]
    assert body["added"] == ["sms1"]
    assert body["candidates"] == {"users": 1, "action": "switch"}
    assert body["errors"] == []
    assert (body["from_version"], body["to_version"]) == (1, 2)
    assert JourneyVersion.objects.filter(journey=live).count() == 1


def test_preview_reports_the_validation_errors_of_the_new_definition(
    api: APIClient, live: Journey
) -> None:
    definition = edited()
    definition["nodes"][0]["duration"] = "later"

    body = api.post(
        f"/api/v1/journeys/{live.pk}/preview", {"definition": definition}, format="json"
    ).json()

    assert [e["path"] for e in body["errors"]] == ["nodes[0].duration"]
    assert body["changes"][0]["node"] == "wait"


def test_preview_of_a_draft_has_nothing_in_flight(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey()

    body = api.post(
        f"/api/v1/journeys/{journey.pk}/preview", {"definition": edited()}, format="json"
    ).json()

    assert body["changes"] == []
    assert body["unchanged"] == []
    assert (body["from_version"], body["to_version"]) == (None, 1)


def test_users_at_unchanged_blocks_switch_to_the_new_version(
    api: APIClient, live: Journey, enroll: Callable[..., Enrollment]
) -> None:
    waiting_at_push = enroll(live, "push1", node_state="waiting", revision=2, context={"k": 1})

    response = publish_edit(api, live)

    assert response.status_code == 200
    v2 = JourneyVersion.objects.get(journey=live, number=2)
    waiting_at_push.refresh_from_db()
    assert waiting_at_push.version == v2
    assert waiting_at_push.node == "push1"
    assert waiting_at_push.node_state == "waiting"
    assert waiting_at_push.context == {"k": 1}
    assert waiting_at_push.revision == 3
    assert v2.in_flight["unchanged"] == {"nodes": ["entry", "push1", "paid"], "users": 1}


def test_keep_leaves_users_on_the_old_version_to_finish_there(
    api: APIClient, live: Journey, enroll: Callable[..., Enrollment]
) -> None:
    wake = NOW + timedelta(minutes=5)
    at_wait = enroll(live, "wait", wake_at=wake, revision=1)
    at_mail = enroll(live, "mail")

    response = publish_edit(api, live, {"wait": {"action": "keep"}})  # mail: keep by default

    assert response.status_code == 200
    v1 = JourneyVersion.objects.get(journey=live, number=1)
    for row in (at_wait, at_mail):
        before = (row.node, row.revision)
        row.refresh_from_db()
        assert row.version == v1
        assert (row.node, row.revision) == before
    assert at_wait.wake_at == wake
    record = JourneyVersion.objects.get(journey=live, number=2).in_flight
    assert record["nodes"] == {
        "wait": {"change": "changed", "action": "keep", "users": 1},
        "mail": {"change": "removed", "action": "keep", "users": 1},
    }
    assert not Step.objects.exists()


def test_move_puts_users_at_the_chosen_block_of_the_new_version_and_logs_a_step(
    api: APIClient, live: Journey, enroll: Callable[..., Enrollment]
) -> None:
    entered = NOW - timedelta(minutes=3)
    mover = enroll(
        live,
        "wait",
        node_state="waiting",
        wake_at=NOW + timedelta(minutes=17),
        node_entered_at=entered,
        visit=2,
        revision=5,
        context={"timer": "x"},
    )
    also = enroll(live, "wait")

    response = publish_edit(api, live, {"wait": {"action": "move", "to": "sms1"}})

    assert response.status_code == 200
    v2 = JourneyVersion.objects.get(journey=live, number=2)
    mover.refresh_from_db()
    assert mover.version == v2
    assert mover.node == "sms1"
    assert mover.node_state == "pending"
    assert mover.visit == 3
    assert mover.node_entered_at == NOW
    assert mover.wake_at is None
    assert mover.context == {}
    assert mover.revision == 6
    assert mover.state == "active"
    step = Step.objects.get(enrollment=mover)
    assert (step.node, step.visit, step.version_number) == ("wait", 2, 1)
    assert (step.outcome, step.detail) == ("moved", {"to": "sms1", "version": 2})
    assert (step.entered_at, step.left_at) == (entered, NOW)
    assert step.profile_id == mover.profile_id
    also.refresh_from_db()
    assert (also.node, also.version) == ("sms1", v2)
    assert v2.in_flight["nodes"]["wait"] == {
        "change": "changed",
        "action": "move",
        "to": "sms1",
        "users": 2,
    }


def test_move_closes_the_step_the_engine_already_opened_for_that_visit(
    api: APIClient, live: Journey, enroll: Callable[..., Enrollment]
) -> None:
    mover = enroll(live, "wait")
    Step.objects.create(
        enrollment=mover,
        journey=live,
        version_number=1,
        profile=mover.profile,
        node="wait",
        visit=1,
        entered_at=NOW - timedelta(minutes=1),
    )

    publish_edit(api, live, {"wait": {"action": "move", "to": "push1"}})

    step = Step.objects.get(enrollment=mover)
    assert (step.outcome, step.left_at) == ("moved", NOW)
    assert step.entered_at == NOW - timedelta(minutes=1)


def test_exit_removes_users_at_the_block_with_reason_removed(
    api: APIClient, live: Journey, enroll: Callable[..., Enrollment]
) -> None:
    leaver = enroll(live, "mail", node_state="done", revision=1)

    response = publish_edit(api, live, {"mail": {"action": "exit"}})

    assert response.status_code == 200
    leaver.refresh_from_db()
    assert leaver.state == "exited"
    assert leaver.exit_reason == "removed"
    assert leaver.exit_node == "mail"
    assert leaver.exited_at == NOW
    assert leaver.wake_at is None
    assert leaver.revision == 2
    assert leaver.version.number == 1
    step = Step.objects.get(enrollment=leaver)
    assert (step.node, step.outcome, step.detail) == ("mail", "exit", {"reason": "removed"})
    record = JourneyVersion.objects.get(journey=live, number=2).in_flight
    assert record["nodes"]["mail"] == {"change": "removed", "action": "exit", "users": 1}


def test_the_choice_applies_to_the_publish_endpoint_too(
    api: APIClient, live: Journey, enroll: Callable[..., Enrollment]
) -> None:
    leaver = enroll(live, "wait")
    Journey.objects.filter(pk=live.pk).update(definition=edited(), definition_text="")

    response = api.post(
        f"/api/v1/journeys/{live.pk}/publish",
        {"in_flight": {"wait": {"action": "exit"}}},
        format="json",
    )

    assert response.status_code == 200
    leaver.refresh_from_db()
    assert (leaver.state, leaver.exit_reason) == ("exited", "removed")


def test_candidates_switch_when_the_entry_is_unchanged(
    api: APIClient, live: Journey, enroll: Callable[..., Enrollment]
) -> None:
    candidate = enroll(live, "entry", state="candidate", wake_at=NOW + timedelta(minutes=5))

    publish_edit(api, live)

    candidate.refresh_from_db()
    assert (candidate.state, candidate.version.number) == ("candidate", 2)
    record = JourneyVersion.objects.get(journey=live, number=2).in_flight
    assert record["candidates"] == {"action": "switch", "users": 1}


def test_candidates_are_cancelled_when_the_entry_changed(
    api: APIClient, live: Journey, enroll: Callable[..., Enrollment]
) -> None:
    candidate = enroll(live, "entry", state="candidate", wake_at=NOW + timedelta(minutes=5))
    definition = edited()
    definition["entry"]["where"][0]["value"] = 80

    with time_machine.travel(NOW, tick=False):
        api.patch(f"/api/v1/journeys/{live.pk}", {"definition": definition}, format="json")

    candidate.refresh_from_db()
    assert candidate.state == "cancelled"
    assert candidate.wake_at is None
    assert candidate.version.number == 1


def test_users_kept_on_an_older_version_are_left_alone_by_later_versions(
    api: APIClient, live: Journey, enroll: Callable[..., Enrollment]
) -> None:
    kept = enroll(live, "wait")
    publish_edit(api, live)  # keep
    third = edited()
    third["nodes"][0]["duration"] = "PT45M"

    api.patch(
        f"/api/v1/journeys/{live.pk}",
        {"definition": third, "in_flight": {"wait": {"action": "exit"}}},
        format="json",
    )

    kept.refresh_from_db()
    assert (kept.state, kept.version.number, kept.node) == ("active", 1, "wait")


@pytest.mark.parametrize(
    ("in_flight", "path"),
    [
        ({"wait": {"action": "move", "to": "nowhere"}}, "in_flight.wait.to"),
        ({"wait": {"action": "move", "to": "entry"}}, "in_flight.wait.to"),
        ({"wait": {"action": "move"}}, "in_flight.wait.to"),
        ({"wait": {"action": "exit", "to": "sms1"}}, "in_flight.wait.to"),
        ({"wait": {"action": "teleport"}}, "in_flight.wait.action"),
        ({"wait": "exit"}, "in_flight.wait"),
        ({"push1": {"action": "exit"}}, "in_flight.push1"),
        ({"ghost": {"action": "exit"}}, "in_flight.ghost"),
        (["wait"], "in_flight"),
    ],
)
def test_an_invalid_choice_is_a_400_with_its_path_and_publishes_nothing(
    api: APIClient,
    live: Journey,
    enroll: Callable[..., Enrollment],
    in_flight: Any,
    path: str,
) -> None:
    at_wait = enroll(live, "wait")

    response = publish_edit(api, live, in_flight)

    assert response.status_code == 400
    assert [e["path"] for e in response.json()["in_flight"]] == [path]
    assert JourneyVersion.objects.filter(journey=live).count() == 1
    live.refresh_from_db()
    assert live.definition == contract_example()
    at_wait.refresh_from_db()
    assert at_wait.version.number == 1


def test_nobody_is_stranded_every_active_user_is_at_a_block_of_their_version(
    api: APIClient, live: Journey, enroll: Callable[..., Enrollment]
) -> None:
    for node in ("entry", "wait", "wait", "push1", "paid", "mail", "mail"):
        enroll(live, node)

    publish_edit(api, live, {"wait": {"action": "move", "to": "paid"}})
    third = edited()
    third["nodes"] = [n for n in third["nodes"] if n["id"] != "sms1"]
    third["edges"] = [e for e in third["edges"] if e["to"] != "sms1"]
    api.patch(
        f"/api/v1/journeys/{live.pk}",
        {"definition": third, "in_flight": {"sms1": {"action": "exit"}}},
        format="json",
    )

    for row in Enrollment.objects.filter(journey=live, state="active").select_related("version"):
        definition = row.version.definition
        blocks = {definition["entry"]["id"], *(n["id"] for n in definition["nodes"])}
        assert row.node in blocks, (row.node, row.version.number)
