"""CORS: any origin may call the three ingest endpoints (web SDK), nothing else."""

from __future__ import annotations

import pytest
from django.test import Client

from engine.models import Project

pytestmark = pytest.mark.django_db

ORIGIN = "https://shop.example.com"


def preflight(path: str) -> object:
    return Client().options(
        path,
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/profiles", "/api/v1/identify"])
def test_a_preflight_from_another_origin_is_allowed_on_ingest_endpoints(path: str) -> None:
    response = preflight(path)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] in {"*", ORIGIN}
    assert "POST" in response["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    # Bearer keys, never cookies.
    assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/projects",
        "/api/v1/auth/token",
        "/api/v1/projects/1/members",
        "/api/schema/",
        "/admin/login/",
    ],
)
def test_a_preflight_from_another_origin_is_not_allowed_on_marketer_endpoints(
    path: str,
) -> None:
    response = preflight(path)
    assert "Access-Control-Allow-Origin" not in response


def test_a_cross_origin_ingest_post_carries_the_allow_origin_header(project: Project) -> None:
    response = Client().post(
        "/api/v1/events",
        {"events": [{"profile_id": "u-42", "name": "Page Viewed"}]},
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Bearer {project.ingest_key}",
    )
    assert response.status_code == 202
    assert response["Access-Control-Allow-Origin"] in {"*", ORIGIN}


def test_a_cross_origin_ingest_error_is_readable_by_the_page(project: Project) -> None:
    response = Client().post(
        "/api/v1/events",
        {"events": []},
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION="Bearer wrong",
    )
    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] in {"*", ORIGIN}
