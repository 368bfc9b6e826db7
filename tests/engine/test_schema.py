"""The OpenAPI schema and its rendered docs."""

from __future__ import annotations

import pytest
import yaml
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_schema_is_an_openapi_document_with_the_api_paths() -> None:
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    for path in (
        "/api/v1/events",
        "/api/v1/profiles",
        "/api/v1/identify",
        "/api/v1/projects",
        "/api/v1/projects/{project_id}/members",
        "/api/v1/auth/token",
    ):
        assert path in schema["paths"], path
    events = schema["paths"]["/api/v1/events"]["post"]
    assert {"202", "400", "401", "413"} <= set(events["responses"])
    assert "ingestKey" in schema["components"]["securitySchemes"]


def test_the_schema_is_also_served_as_json() -> None:
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    assert "/api/v1/events" in response.json()["paths"]


def test_the_api_docs_page_renders() -> None:
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    # Its start script (a file, not inline: the CSP refuses inline scripts) loads the schema.
    script = Client().get("/api/docs/?script=")
    assert script.status_code == 200
    assert b"/api/schema/" in script.content
