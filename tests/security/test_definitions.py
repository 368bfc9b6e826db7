"""Journey definitions are bounded at save: depth, layout, labels and text; stored odd ones still list."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from builder.models import Journey
from engine.domain.bounds import bounds_errors
from engine.domain.filters import json_equal
from engine.models import Project
from tests.engine.domain.examples import contract_example

pytestmark = pytest.mark.django_db


def nested(depth: int) -> Any:
    value: Any = {"x": 1}
    for _ in range(depth):
        value = {"child": value}
    return value


def create(api: APIClient, project: Project, definition: Any) -> Any:
    body = {"project": project.pk, "name": "Deep", "definition": definition}
    # json.dumps escapes lone surrogates, which the test client's renderer cannot encode.
    return api.generic(
        "POST", "/api/v1/journeys", json.dumps(body), content_type="application/json"
    )


def test_a_journey_stored_with_a_500_deep_layout_does_not_break_the_list(
    api: APIClient, project: Project
) -> None:
    definition = contract_example()
    definition["layout"] = {"entry": nested(500)}
    text = json.dumps(definition)
    journey = Journey.objects.create(
        project=project, name="Deep", definition=definition, definition_text=text
    )
    assert api.get(f"/api/v1/journeys?project={project.pk}").status_code == 200
    assert api.get(f"/api/v1/journeys/{journey.pk}").status_code == 200
    assert api.get(f"/api/v1/journeys/{journey.pk}/export").status_code == 200


def test_a_deep_layout_is_refused_at_save_with_its_path(api: APIClient, project: Project) -> None:
    definition = contract_example()
    definition["layout"] = {"entry": nested(20)}
    response = create(api, project, definition)
    assert response.status_code == 400
    assert response.json()["definition"][0]["path"] == "layout.entry"
    assert not Journey.objects.exists()


def test_a_layout_with_too_many_entries_is_refused(api: APIClient, project: Project) -> None:
    definition = contract_example()
    definition["layout"] = {f"n{i}": {"x": i, "y": 0} for i in range(2001)}
    response = create(api, project, definition)
    assert response.status_code == 400
    assert response.json()["definition"][0]["path"] == "layout"


def test_a_label_longer_than_200_characters_is_refused(api: APIClient, project: Project) -> None:
    definition = contract_example()
    definition["nodes"][0]["label"] = "x" * 201
    response = create(api, project, definition)
    assert response.status_code == 400
    assert response.json()["definition"][0]["path"] == "nodes[0].label"


@pytest.mark.parametrize("text", ["a\u0000b", "\ud800"])
def test_unstorable_text_in_a_definition_is_refused_with_its_path(
    api: APIClient, project: Project, text: str
) -> None:
    definition = contract_example()
    definition["nodes"][1]["title"] = text
    response = create(api, project, definition)
    assert response.status_code == 400
    assert response.json()["definition"][0]["path"] == "nodes[1].title"


def test_preview_of_an_out_of_bounds_definition_lists_the_problem(
    api: APIClient, project: Project
) -> None:
    journey = create(api, project, contract_example()).json()
    definition = contract_example()
    definition["layout"] = {"entry": nested(20)}
    response = api.post(
        f"/api/v1/journeys/{journey['id']}/preview", {"definition": definition}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["errors"][0]["path"] == "layout.entry"


def test_bounds_accept_the_contract_example() -> None:
    assert bounds_errors(contract_example()) == []


def test_json_equal_compares_values_deeper_than_the_recursion_limit() -> None:
    assert json_equal(nested(5000), nested(5000))
    assert not json_equal(nested(5000), nested(4999))


def test_importing_a_file_nested_too_deeply_says_what_is_wrong(
    marketer: Any, project: Project
) -> None:
    from django.test import Client

    client = Client()
    client.force_login(marketer)
    for depth, message in ((5000, "That file is not JSON"), (40, "does not validate at")):
        document = {"format": "journeys/v1", "name": "Deep", "definition": contract_example()}
        document["definition"]["layout"] = {"entry": nested(depth)}
        text = json.dumps(document) if depth < 900 else ('{"a":' * depth + "1" + "}" * depth)
        upload = io.BytesIO(text.encode())
        upload.name = "deep.json"
        response = client.post("/journeys/import", {"file": upload}, follow=True)
        assert response.status_code == 200
        assert message in response.content.decode()
    assert not Journey.objects.exists()
