"""Export, import and duplicate: portable documents and copies of journeys."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rest_framework.test import APIClient

from builder.models import Journey
from engine.models import Project
from tests.engine.domain.examples import contract_example, every_block_type


def test_export_then_import_into_another_project_gives_the_same_draft(
    api: APIClient,
    other_api: APIClient,
    other_project: Project,
    make_journey: Callable[..., Journey],
) -> None:
    journey = make_journey(status="live", definition=contract_example(), name="Cart")

    document = api.get(f"/api/v1/journeys/{journey.pk}/export").json()
    imported = other_api.post(
        "/api/v1/journeys/import", {**document, "project": other_project.pk}, format="json"
    )

    assert document == {"format": "journeys/v1", "name": "Cart", "definition": contract_example()}
    assert imported.status_code == 201
    body = imported.json()
    assert (body["project"], body["name"], body["status"]) == (other_project.pk, "Cart", "draft")
    assert json.dumps(body["definition"]) == json.dumps(contract_example())
    assert body["live_version"] is None


def test_import_of_every_block_type_keeps_the_definition(api: APIClient, project: Project) -> None:
    document = {"format": "journeys/v1", "name": "All", "definition": every_block_type()}

    response = api.post(
        "/api/v1/journeys/import", {**document, "project": project.pk}, format="json"
    )

    assert response.status_code == 201
    assert json.dumps(response.json()["definition"]) == json.dumps(every_block_type())


def test_import_of_an_unknown_format_is_a_400(api: APIClient, project: Project) -> None:
    response = api.post(
        "/api/v1/journeys/import",
        {"project": project.pk, "format": "other/v9", "name": "x", "definition": {}},
        format="json",
    )

    assert response.status_code == 400
    assert "format" in response.json()


def test_import_validates_the_definition(api: APIClient, project: Project) -> None:
    definition = contract_example()
    definition["edges"].append({"from": "mail", "to": "wait"})

    response = api.post(
        "/api/v1/journeys/import",
        {"project": project.pk, "format": "journeys/v1", "name": "x", "definition": definition},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["definition"][0]["path"] == "edges[4]"
    assert not Journey.objects.exists()


def test_import_checks_journey_triggers_against_the_target_project(
    api: APIClient,
    other_api: APIClient,
    other_project: Project,
    make_journey: Callable[..., Journey],
) -> None:
    source = make_journey()
    definition = contract_example()
    definition["entry"] = {
        "id": "entry",
        "type": "journey_trigger",
        "journey": str(source.pk),
        "node": "push1",
    }
    trigger = make_journey(definition=definition, name="Follow-up")
    document = api.get(f"/api/v1/journeys/{trigger.pk}/export").json()

    response = other_api.post(
        "/api/v1/journeys/import", {**document, "project": other_project.pk}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["definition"][0]["path"] == "entry.journey"


def test_duplicate_makes_a_draft_copy_with_the_same_definition(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey(status="live", definition=every_block_type_now(), name="Winback")

    response = api.post(f"/api/v1/journeys/{journey.pk}/duplicate")

    assert response.status_code == 201
    body = response.json()
    assert body["id"] != journey.pk
    assert (body["name"], body["status"], body["version"]) == ("Winback (copy)", "draft", 1)
    assert body["live_version"] is None
    assert json.dumps(body["definition"]) == json.dumps(every_block_type_now())
    assert Journey.objects.get(pk=journey.pk).status == "live"


def test_duplicate_keeps_long_names_within_the_limit(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey(name="n" * 200)

    body = api.post(f"/api/v1/journeys/{journey.pk}/duplicate").json()

    assert len(body["name"]) == 200
    assert body["name"].endswith(" (copy)")


def every_block_type_now() -> dict[str, Any]:
    definition = every_block_type()
    definition["settings"]["start_at"] = None
    definition["settings"]["end_at"] = None
    return definition
