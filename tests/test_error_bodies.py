"""Every error path of the HTTP API answers with the body shape clients depend on
(CONTRACT.md; docs/api.md "Errors"), all of them built by journeys_site/errors.py.

One request per path; the body is compared as a shape (keys, and the type of each value)
plus the values that are fixed words, so a message may be reworded but never moved.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from engine.models import Project
from tests.conftest import client_for
from tests.engine.domain.examples import contract_example

pytestmark = pytest.mark.django_db

DETAIL = {"detail": str}
NOT_FOUND = {"detail": "Not found."}
INGEST = {"errors": [{"index": None, "field": None, "message": str}]}
PUSH_ENDPOINT = "https://fcm.googleapis.com/fcm/send/x"
PUSH_KEYS = {
    "p256dh": base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).decode().rstrip("="),
    "auth": base64.urlsafe_b64encode(b"\x02" * 16).decode().rstrip("="),
}


def shape(value: Any) -> Any:
    """The body with every string and number replaced by its type (None and bools kept)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    return type(value)


def matches(body: Any, expected: Any) -> bool:
    """``expected`` holds types where any value of that type will do, else exact values."""
    if isinstance(expected, type):
        return isinstance(body, expected) and not isinstance(body, bool)
    if isinstance(expected, dict):
        return (
            isinstance(body, dict)
            and body.keys() == expected.keys()
            and all(matches(body[k], v) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(body, list)
            and len(body) == len(expected)
            and all(matches(b, e) for b, e in zip(body, expected, strict=True))
        )
    return bool(body == expected)


class World:
    def __init__(self, api: APIClient, project: Project, marketer: Any, viewer: Any) -> None:
        self.api = api
        self.project = project
        self.marketer = marketer
        self.viewer_api = client_for(viewer)

    def ingest(self, key: str | None = None) -> APIClient:
        client = APIClient()
        if key is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return client

    def post_journey(self, client: APIClient, definition: dict[str, Any]) -> Any:
        return client.post(
            "/api/v1/journeys",
            {"project": self.project.pk, "name": "Cart", "definition": definition},
            format="json",
        )

    def journey(self) -> int:
        response = self.post_journey(self.api, contract_example())
        assert response.status_code == 201, response.content
        return int(response.json()["id"])

    def live_journey(self) -> int:
        journey_id = self.journey()
        assert self.api.post(f"/api/v1/journeys/{journey_id}/publish").status_code == 200
        return journey_id


@pytest.fixture
def world(api: APIClient, project: Project, marketer: Any, viewer: Any) -> World:
    return World(api, project, marketer, viewer)


def _bad_duration() -> dict[str, Any]:
    definition = contract_example()
    definition["nodes"][0]["duration"] = "soon"
    return definition


def _stale_revision(w: World) -> Any:
    journey_id = w.journey()
    w.api.patch(f"/api/v1/journeys/{journey_id}", {"name": "B", "revision": 0}, format="json")
    return w.api.patch(
        f"/api/v1/journeys/{journey_id}", {"name": "C", "revision": 0}, format="json"
    )


def _in_flight_invalid(w: World) -> Any:
    journey_id = w.live_journey()
    changed = contract_example()
    changed["nodes"][0]["duration"] = "PT30M"
    return w.api.patch(
        f"/api/v1/journeys/{journey_id}",
        {"definition": changed, "in_flight": ["wait"]},
        format="json",
    )


def _locked_out(w: World) -> Any:
    client = APIClient(REMOTE_ADDR="10.9.0.1")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/api/v1/auth/token", {"username": "ana", "password": "x"}, format="json")
    return client.post(
        "/api/v1/auth/token", {"username": "ana", "password": "pw-for-tests"}, format="json"
    )


def _identity_unverified(w: World) -> Any:
    Project.objects.filter(pk=w.project.pk).update(identity_verification=True)
    w.ingest(w.project.ingest_key).post(
        "/api/v1/identify", {"profile_id": "u-1"}, format="json"
    )  # the server key may identify without a hash
    return w.ingest(w.project.sdk_key).post(
        "/api/v1/identify", {"profile_id": "u-1"}, format="json"
    )


PATHS: list[tuple[str, Callable[[World], Any], int, Any]] = [
    # -- anywhere under /api/ ------------------------------------------------------------
    ("no route", lambda w: w.api.get("/api/v1/nowhere"), 404, NOT_FOUND),
    (
        "id past the database",
        lambda w: w.api.get("/api/v1/projects/99999999999999999999999"),
        404,
        NOT_FOUND,
    ),
    ("no credentials", lambda w: APIClient().get("/api/v1/projects"), 401, DETAIL),
    (
        "malformed JSON",
        lambda w: w.api.post("/api/v1/projects", "{", content_type="application/json"),
        400,
        DETAIL,
    ),
    (
        "serializer fields",
        lambda w: w.api.post("/api/v1/projects", {}, format="json"),
        400,
        {"name": [str]},
    ),
    # -- engine: projects and sign-in ----------------------------------------------------
    (
        "project refused by its service",
        lambda w: w.api.post(
            "/api/v1/projects", {"name": "P", "timezone": "Mars/Base"}, format="json"
        ),
        400,
        {"timezone": [str]},
    ),
    ("missing project", lambda w: w.api.get("/api/v1/projects/987654"), 404, NOT_FOUND),
    (
        "wrong password",
        lambda w: APIClient().post(
            "/api/v1/auth/token", {"username": "ana", "password": "x"}, format="json"
        ),
        400,
        {"non_field_errors": ["Unable to log in with provided credentials."]},
    ),
    ("locked out", _locked_out, 429, DETAIL),
    # -- builder --------------------------------------------------------------------------
    ("missing journey", lambda w: w.api.get("/api/v1/journeys/987654"), 404, NOT_FOUND),
    (
        "viewer may not write",
        lambda w: w.post_journey(w.viewer_api, contract_example()),
        403,
        DETAIL,
    ),
    (
        "definition invalid",
        lambda w: w.post_journey(w.api, _bad_duration()),
        400,
        {"definition": [{"path": "nodes[0].duration", "message": str}]},
    ),
    (
        "transition refused",
        lambda w: w.api.post(f"/api/v1/journeys/{w.journey()}/resume"),
        409,
        {"detail": str, "status": "draft"},
    ),
    ("stale revision", _stale_revision, 409, {"detail": str, "revision": 1}),
    (
        "in-flight choice invalid",
        _in_flight_invalid,
        400,
        {"in_flight": [{"path": "in_flight", "message": str}]},
    ),
    (
        "import refused",
        lambda w: w.api.post(
            "/api/v1/journeys/import",
            {"project": w.project.pk, "format": "other", "name": "X", "definition": {}},
            format="json",
        ),
        400,
        {"format": [str]},
    ),
    # -- stats ------------------------------------------------------------------------------
    (
        "time frame invalid",
        lambda w: w.api.get(f"/api/v1/journeys/{w.journey()}/stats", {"from": "soon"}),
        400,
        {"from": [str]},
    ),
    (
        "timeline without its project",
        lambda w: w.api.get("/api/v1/profiles/u-1/timeline"),
        400,
        {"project": [str]},
    ),
    # -- accounts ---------------------------------------------------------------------------
    (
        "member not found",
        lambda w: w.api.delete(f"/api/v1/projects/{w.project.pk}/members/nobody"),
        404,
        NOT_FOUND,
    ),
    (
        "last admin stays",
        lambda w: w.api.delete(f"/api/v1/projects/{w.project.pk}/members/ana"),
        400,
        {"username": [str]},
    ),
    (
        "not a channel",
        lambda w: w.api.put(f"/api/v1/projects/{w.project.pk}/channels/pigeon", {}, format="json"),
        404,
        {"channel": [str]},
    ),
    (
        "channel settings not an object",
        lambda w: w.api.put(
            f"/api/v1/projects/{w.project.pk}/channels/email", ["x"], format="json"
        ),
        400,
        {"non_field_errors": [str]},
    ),
    (
        "channel test without its address",
        lambda w: w.api.post(
            f"/api/v1/projects/{w.project.pk}/channels/email/test", {}, format="json"
        ),
        400,
        {"to": [str]},
    ),
    (
        "limits not an object",
        lambda w: w.api.put(f"/api/v1/projects/{w.project.pk}/limits", ["x"], format="json"),
        400,
        {"non_field_errors": [str]},
    ),
    (
        "limits with unknown fields",
        lambda w: w.api.put(
            f"/api/v1/projects/{w.project.pk}/limits", {"b": 1, "a": 2}, format="json"
        ),
        400,
        {"a": [str], "b": [str]},
    ),
    (
        "limits refused by their service",
        lambda w: w.api.put(
            f"/api/v1/projects/{w.project.pk}/limits", {"frequency_caps": "x"}, format="json"
        ),
        400,
        {"frequency_caps": [str]},
    ),
    # -- ingest: one shape for every answer -------------------------------------------------
    (
        "ingest without a key",
        lambda w: w.ingest().post("/api/v1/events", {"events": []}, format="json"),
        401,
        INGEST,
    ),
    (
        "ingest with a wrong key",
        lambda w: w.ingest("nope").post("/api/v1/events", {"events": []}, format="json"),
        401,
        INGEST,
    ),
    (
        "invalid event",
        lambda w: w.ingest(w.project.ingest_key).post(
            "/api/v1/events", {"events": [{"profile_id": "u-1", "name": ""}]}, format="json"
        ),
        400,
        {"errors": [{"index": 0, "field": "name", "message": str}]},
    ),
    (
        "ingest body not JSON",
        lambda w: w.ingest(w.project.ingest_key).post(
            "/api/v1/events", "{", content_type="application/json"
        ),
        400,
        INGEST,
    ),
    (
        "ingest body too large",
        lambda w: w.ingest(w.project.ingest_key).post(
            "/api/v1/events",
            json.dumps({"events": [], "pad": "x" * (settings.INGEST_MAX_BYTES + 1)}),
            content_type="application/json",
        ),
        413,
        INGEST,
    ),
    (
        "identity not verified",
        _identity_unverified,
        403,
        {"errors": [{"index": None, "field": "user_hash", "message": str}]},
    ),
    (
        "web push for an unknown profile",
        lambda w: w.ingest(w.project.ingest_key).post(
            "/api/v1/web-push/subscriptions",
            {"profile_id": "ghost", "subscription": {"endpoint": PUSH_ENDPOINT, "keys": PUSH_KEYS}},
            format="json",
        ),
        404,
        {"errors": [{"index": None, "field": "profile_id", "message": str}]},
    ),
]


@pytest.mark.parametrize(
    ("request_of", "status", "expected"),
    [
        pytest.param(request_of, status, expected, id=name)
        for name, request_of, status, expected in PATHS
    ],
)
@override_settings(JOURNEYS_WEBHOOK_ALLOW_PRIVATE=False)
def test_each_error_path_answers_with_its_body_shape(
    world: World, request_of: Callable[[World], Any], status: int, expected: Any
) -> None:
    response = request_of(world)

    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert matches(body, expected), f"{body!r} is not shaped {expected!r} (shape {shape(body)!r})"
