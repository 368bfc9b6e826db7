"""Who may do what: every journey endpoint for non-members, viewers, other projects and anonymous callers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from builder.models import Journey
from engine.models import Project
from tests.engine.domain.examples import contract_example

READS: list[tuple[str, str, Any]] = [
    ("get", "/api/v1/journeys/{id}", None),
    ("get", "/api/v1/journeys/{id}/versions", None),
    ("get", "/api/v1/journeys/{id}/versions/1", None),
    ("get", "/api/v1/journeys/{id}/export", None),
    ("post", "/api/v1/journeys/{id}/preview", {"definition": "DEF"}),
]
WRITES: list[tuple[str, str, Any]] = [
    ("put", "/api/v1/journeys/{id}", {"name": "x", "definition": "DEF"}),
    ("patch", "/api/v1/journeys/{id}", {"name": "x"}),
    ("delete", "/api/v1/journeys/{id}", None),
    ("post", "/api/v1/journeys/{id}/publish", {}),
    ("post", "/api/v1/journeys/{id}/pause", None),
    ("post", "/api/v1/journeys/{id}/resume", None),
    ("post", "/api/v1/journeys/{id}/stop", None),
    ("post", "/api/v1/journeys/{id}/duplicate", None),
]
PROJECT_WRITES: list[tuple[str, str, Any]] = [
    ("post", "/api/v1/journeys", {"project": "PROJECT", "name": "x", "definition": "DEF"}),
    (
        "post",
        "/api/v1/journeys/import",
        {"project": "PROJECT", "format": "journeys/v1", "name": "x", "definition": "DEF"},
    ),
]


def call(client: APIClient, method: str, path: str, body: Any, journey: Journey) -> Any:
    url = path.format(id=journey.pk)
    if isinstance(body, dict):
        body = {
            k: (contract_example() if v == "DEF" else journey.project_id if v == "PROJECT" else v)
            for k, v in body.items()
        }
    return getattr(client, method)(url, body, format="json")


def ids(cases: list[tuple[str, str, Any]]) -> list[str]:
    return [f"{m.upper()} {p}" for m, p, _ in cases]


@pytest.fixture
def journey(make_journey: Callable[..., Journey]) -> Journey:
    return make_journey(status="live")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    READS + WRITES + PROJECT_WRITES,
    ids=ids(READS + WRITES + PROJECT_WRITES),
)
def test_a_non_member_gets_404_everywhere(
    other_api: APIClient, journey: Journey, method: str, path: str, body: Any
) -> None:
    response = call(other_api, method, path, body, journey)

    assert response.status_code == 404
    assert Journey.objects.get(pk=journey.pk).status == "live"


def test_a_non_member_cannot_list_another_projects_journeys(
    other_api: APIClient, journey: Journey
) -> None:
    assert other_api.get(f"/api/v1/journeys?project={journey.project_id}").status_code == 404
    assert other_api.get("/api/v1/journeys").json() == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    READS + WRITES + PROJECT_WRITES,
    ids=ids(READS + WRITES + PROJECT_WRITES),
)
def test_an_anonymous_caller_gets_401_everywhere(
    journey: Journey, method: str, path: str, body: Any
) -> None:
    response = call(APIClient(), method, path, body, journey)

    assert response.status_code == 401


def test_an_anonymous_caller_cannot_list_journeys_or_blocks() -> None:
    assert APIClient().get("/api/v1/journeys").status_code == 401
    assert APIClient().get("/api/v1/blocks").status_code == 401


@pytest.mark.parametrize(("method", "path", "body"), READS, ids=ids(READS))
def test_a_viewer_can_read(
    viewer_api: APIClient, journey: Journey, method: str, path: str, body: Any
) -> None:
    response = call(viewer_api, method, path, body, journey)

    assert response.status_code == 200


def test_a_viewer_can_list_the_projects_journeys(viewer_api: APIClient, journey: Journey) -> None:
    response = viewer_api.get(f"/api/v1/journeys?project={journey.project_id}")

    assert [j["id"] for j in response.json()] == [journey.pk]


@pytest.mark.parametrize(
    ("method", "path", "body"), WRITES + PROJECT_WRITES, ids=ids(WRITES + PROJECT_WRITES)
)
def test_a_viewer_cannot_edit_or_publish(
    viewer_api: APIClient, journey: Journey, method: str, path: str, body: Any
) -> None:
    response = call(viewer_api, method, path, body, journey)

    assert response.status_code == 403
    assert Journey.objects.count() == 1
    assert Journey.objects.get(pk=journey.pk).status == "live"


@pytest.mark.parametrize(
    ("method", "path", "body"), WRITES + PROJECT_WRITES, ids=ids(WRITES + PROJECT_WRITES)
)
def test_an_editor_can_edit_and_publish(
    editor_api: APIClient, journey: Journey, method: str, path: str, body: Any
) -> None:
    response = call(editor_api, method, path, body, journey)

    assert response.status_code in (200, 201, 409)  # 409: deleting a live journey


def test_a_member_of_project_a_cannot_touch_project_bs_journeys(
    api: APIClient, other_api: APIClient, project: Project, other_project: Project
) -> None:
    theirs = other_api.post(
        "/api/v1/journeys",
        {"project": other_project.pk, "name": "B", "definition": contract_example()},
        format="json",
    ).json()["id"]

    assert api.get(f"/api/v1/journeys/{theirs}").status_code == 404
    assert api.post(f"/api/v1/journeys/{theirs}/publish").status_code == 404
    assert api.delete(f"/api/v1/journeys/{theirs}").status_code == 404
    assert [j["id"] for j in api.get("/api/v1/journeys").json()] == []
    assert Journey.objects.get(pk=theirs).status == "draft"
