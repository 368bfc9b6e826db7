"""The marketer's journey API: create, read, list, edit, round-trip and validation errors."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from builder.models import Journey
from engine.models import Project
from tests.engine.domain.examples import contract_example, every_block_type

EXAMPLES = {"contract": contract_example, "every_block_type": every_block_type}


def create(api: APIClient, project: Project, definition: Any, name: str = "Cart") -> Any:
    return api.post(
        "/api/v1/journeys",
        {"project": project.pk, "name": name, "definition": definition},
        format="json",
    )


def as_text(value: Any) -> str:
    """JSON text with the keys in the order they come (not sorted)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def test_create_answers_201_with_a_draft_of_version_1(api: APIClient, project: Project) -> None:
    response = create(api, project, contract_example())

    assert response.status_code == 201
    body = response.json()
    assert body["project"] == project.pk
    assert body["name"] == "Cart"
    assert body["status"] == "draft"
    assert body["version"] == 1
    assert body["live_version"] is None
    assert body["has_unpublished_changes"] is True
    assert body["revision"] == 0
    assert body["published_at"] is None
    assert body["start_at"] is None
    assert body["end_at"] is None
    assert body["created_at"].endswith("Z")
    assert Journey.objects.get(pk=body["id"]).created_by is not None


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_definition_round_trips_through_post_then_get_unchanged(
    api: APIClient, project: Project, example: str
) -> None:
    sent = EXAMPLES[example]()

    created = create(api, project, sent)
    fetched = api.get(f"/api/v1/journeys/{created.json()['id']}")

    assert created.status_code == 201, created.json()
    assert as_text(created.json()["definition"]) == as_text(sent)
    assert as_text(fetched.json()["definition"]) == as_text(sent)
    # Byte for byte, key order included, as rendered in the response body.
    assert as_text(sent) in fetched.content.decode()


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_definition_round_trips_through_put_and_publish_unchanged(
    api: APIClient, project: Project, example: str
) -> None:
    journey_id = create(api, project, {"entry": contract_example()["entry"]}).json()["id"]
    sent = EXAMPLES[example]()
    sent["settings"]["start_at"] = None  # publishable today
    sent["settings"]["end_at"] = None

    put = api.put(
        f"/api/v1/journeys/{journey_id}", {"name": "Cart", "definition": sent}, format="json"
    )
    published = api.post(f"/api/v1/journeys/{journey_id}/publish")
    version = api.get(f"/api/v1/journeys/{journey_id}/versions/1")

    assert put.status_code == 200, put.json()
    assert as_text(put.json()["definition"]) == as_text(sent)
    assert as_text(published.json()["definition"]) == as_text(sent)
    assert version.json()["definition"] == sent


def test_keys_in_an_unusual_order_come_back_in_that_order(api: APIClient, project: Project) -> None:
    sent = {
        "nodes": [{"duration": "PT1M", "type": "delay", "id": "z"}],
        "entry": {"type": "action", "id": "entry", "event": "A"},
        "edges": [{"to": "z", "from": "entry"}],
    }
    journey_id = create(api, project, sent).json()["id"]

    assert as_text(api.get(f"/api/v1/journeys/{journey_id}").json()["definition"]) == as_text(sent)


def test_list_filters_by_project_and_without_project_lists_all_the_callers_journeys(
    api: APIClient, project: Project, marketer: Any, other_project: Project, other_api: APIClient
) -> None:
    from tests.factories import MembershipFactory, ProjectFactory

    second = ProjectFactory(name="Second")
    MembershipFactory(project=second, user=marketer)
    a = create(api, project, contract_example(), name="A").json()["id"]
    b = create(api, second, contract_example(), name="B").json()["id"]
    create(other_api, other_project, contract_example(), name="Not mine")

    only_first = api.get(f"/api/v1/journeys?project={project.pk}")
    everything = api.get("/api/v1/journeys")

    assert only_first.status_code == 200
    assert [j["id"] for j in only_first.json()] == [a]
    assert [j["id"] for j in everything.json()] == [a, b]


def test_list_with_a_project_that_is_not_a_number_is_a_400(
    api: APIClient, project: Project
) -> None:
    response = api.get("/api/v1/journeys?project=abc")

    assert response.status_code == 400
    assert "project" in response.json()


def test_an_invalid_definition_on_create_is_a_400_with_paths(
    api: APIClient, project: Project
) -> None:
    definition = contract_example()
    del definition["nodes"][2]["window_days"]

    response = create(api, project, definition)

    assert response.status_code == 400
    assert response.json() == {
        "definition": [{"path": "nodes[2].window_days", "message": "'window_days' is required"}]
    }
    assert not Journey.objects.exists()


def test_an_invalid_definition_on_update_is_a_400_with_paths_and_changes_nothing(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey()
    definition = contract_example()
    definition["nodes"][1]["type"] = "pushh"

    response = api.patch(
        f"/api/v1/journeys/{journey.pk}", {"definition": definition}, format="json"
    )

    assert response.status_code == 400
    [error] = response.json()["definition"]
    assert error["path"] == "nodes[1].type"
    assert "pushh" in error["message"]
    journey.refresh_from_db()
    assert journey.definition == contract_example()


def test_a_definition_that_is_not_an_object_is_a_400_at_the_root(
    api: APIClient, project: Project
) -> None:
    response = create(api, project, ["not", "a", "journey"])

    assert response.status_code == 400
    assert response.json()["definition"][0]["path"] == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "definition": {}}, "project"),
        ({"project": "abc", "name": "x", "definition": {}}, "project"),
        ({"project": 1, "definition": {}}, "name"),
        ({"project": 1, "name": "", "definition": {}}, "name"),
        ({"project": 1, "name": "x" * 201, "definition": {}}, "name"),
        ({"project": 1, "name": "x"}, "definition"),
        ({"project": 1, "name": "x", "definition": None}, "definition"),
    ],
)
def test_missing_or_invalid_fields_are_a_400_in_drf_form(
    api: APIClient, project: Project, body: dict[str, Any], field: str
) -> None:
    response = api.post("/api/v1/journeys", body, format="json")

    assert response.status_code == 400
    assert isinstance(response.json()[field], list)
    assert isinstance(response.json()[field][0], str)


def test_put_requires_name_and_definition_but_patch_takes_either(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey()

    put = api.put(f"/api/v1/journeys/{journey.pk}", {"name": "Renamed"}, format="json")
    patch = api.patch(f"/api/v1/journeys/{journey.pk}", {"name": "Renamed"}, format="json")

    assert put.status_code == 400
    assert put.json() == {"definition": ["This field is required."]}
    assert patch.status_code == 200
    assert patch.json()["name"] == "Renamed"
    assert patch.json()["revision"] == 1


def test_an_edit_carrying_an_older_revision_is_refused_with_409(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey()
    api.patch(f"/api/v1/journeys/{journey.pk}", {"name": "First"}, format="json")

    stale = api.patch(
        f"/api/v1/journeys/{journey.pk}", {"name": "Second", "revision": 0}, format="json"
    )
    fresh = api.patch(
        f"/api/v1/journeys/{journey.pk}", {"name": "Second", "revision": 1}, format="json"
    )

    assert stale.status_code == 409
    assert stale.json()["revision"] == 1
    assert fresh.status_code == 200


def test_saving_the_same_draft_twice_changes_nothing_the_second_time(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey()
    body = {"name": "Cart abandonment", "definition": contract_example()}

    response = api.put(f"/api/v1/journeys/{journey.pk}", body, format="json")

    assert response.status_code == 200
    assert response.json()["revision"] == 0


def test_the_block_palette_lists_every_registered_block_type(api: APIClient) -> None:
    from engine.domain import REGISTRY

    response = api.get("/api/v1/blocks")

    assert response.status_code == 200
    body = response.json()
    assert [b["type"] for b in body["blocks"]] == list(REGISTRY)
    delay = next(b for b in body["blocks"] if b["type"] == "delay")
    assert delay["fields"][0]["name"] == "duration"
    assert "gte" in body["filter_ops"]


def test_the_openapi_schema_documents_every_journey_endpoint(api: APIClient) -> None:
    response = api.get("/api/schema/", {"format": "json"})

    paths = json.loads(response.content)["paths"]
    expected = {
        "/api/v1/journeys": {"get", "post"},
        "/api/v1/journeys/import": {"post"},
        "/api/v1/journeys/{journey_id}": {"get", "put", "patch", "delete"},
        "/api/v1/journeys/{journey_id}/publish": {"post"},
        "/api/v1/journeys/{journey_id}/pause": {"post"},
        "/api/v1/journeys/{journey_id}/resume": {"post"},
        "/api/v1/journeys/{journey_id}/stop": {"post"},
        "/api/v1/journeys/{journey_id}/preview": {"post"},
        "/api/v1/journeys/{journey_id}/versions": {"get"},
        "/api/v1/journeys/{journey_id}/versions/{number}": {"get"},
        "/api/v1/journeys/{journey_id}/export": {"get"},
        "/api/v1/journeys/{journey_id}/duplicate": {"post"},
        "/api/v1/blocks": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), path


def test_a_copy_of_the_example_is_not_changed_by_the_api(api: APIClient, project: Project) -> None:
    sent = contract_example()
    before = copy.deepcopy(sent)

    create(api, project, sent)

    assert sent == before
