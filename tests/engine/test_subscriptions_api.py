"""Subscription status per channel through the profiles API: `subscriptions` in
POST /api/v1/profiles, and GET|PATCH /api/v1/profiles/<id>/subscriptions (server key)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from engine.models import Project, Subscription
from tests.factories import ProfileFactory, ProjectFactory

pytestmark = pytest.mark.django_db

CHANNELS = ["email", "sms", "push", "web_push", "in_app"]
NOON = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def keyed(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def errors(response: Any) -> list[tuple[str | None, str]]:
    return [(e["field"], e["message"]) for e in response.json()["errors"]]


def test_every_channel_starts_subscribed(ingest: APIClient, project: Project) -> None:
    ProfileFactory(project=project, external_id="u-42")
    response = ingest.get("/api/v1/profiles/u-42/subscriptions")
    assert response.status_code == 200
    body = response.json()
    assert body["profile_id"] == "u-42"
    assert list(body["subscriptions"]) == CHANNELS
    assert set(map(str, body["subscriptions"].values())) == {
        str({"status": "subscribed", "changed_at": None, "source": None})
    }


def test_profiles_upsert_sets_status_and_get_reads_when_and_how(
    ingest: APIClient, project: Project
) -> None:
    with time_machine.travel(NOON, tick=False):
        response = ingest.post(
            "/api/v1/profiles",
            {"profiles": [{"id": "u-42", "subscriptions": {"email": "unsubscribed"}}]},
            format="json",
        )
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 1, "updated": 0}
    body = ingest.get("/api/v1/profiles/u-42/subscriptions").json()["subscriptions"]
    assert body["email"] == {
        "status": "unsubscribed",
        "changed_at": "2026-12-03T12:00:00+00:00",
        "source": "api",
    }
    assert body["sms"]["status"] == "subscribed"


def test_patch_changes_only_the_channels_sent(ingest: APIClient, project: Project) -> None:
    profile = ProfileFactory(project=project, external_id="u-42")
    ingest.patch(
        "/api/v1/profiles/u-42/subscriptions",
        {"email": "unsubscribed", "sms": "unsubscribed"},
        format="json",
    )
    response = ingest.patch(
        "/api/v1/profiles/u-42/subscriptions", {"sms": "subscribed"}, format="json"
    )
    assert response.status_code == 200
    statuses = {k: v["status"] for k, v in response.json()["subscriptions"].items()}
    assert statuses["email"] == "unsubscribed"
    assert statuses["sms"] == "subscribed"
    assert Subscription.objects.filter(profile=profile, subscribed=False).count() == 1


def test_the_same_status_again_keeps_when_it_changed(ingest: APIClient, project: Project) -> None:
    ProfileFactory(project=project, external_id="u-42")
    with time_machine.travel(NOON, tick=False):
        ingest.patch("/api/v1/profiles/u-42/subscriptions", {"email": "unsubscribed"}, "json")
    ingest.patch("/api/v1/profiles/u-42/subscriptions", {"email": "unsubscribed"}, "json")
    row = Subscription.objects.get(profile__external_id="u-42")
    assert row.changed_at == NOON


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"webhook": "unsubscribed"}, "'webhook' is not a channel people subscribe to"),
        ({"fax": "subscribed"}, "'fax' is not a channel people subscribe to"),
        ({"email": "no"}, "email: 'no' is not a status; use subscribed or unsubscribed"),
        ({"email": False}, "email: False is not a status"),
        (["email"], "must be an object"),
    ],
)
def test_a_bad_channel_or_value_is_400_naming_it(
    ingest: APIClient, project: Project, payload: Any, message: str
) -> None:
    ProfileFactory(project=project, external_id="u-42")
    response = ingest.patch("/api/v1/profiles/u-42/subscriptions", payload, format="json")
    assert response.status_code == 400
    [(field, text)] = errors(response)
    assert field == "subscriptions"
    assert message in text
    response = ingest.post(
        "/api/v1/profiles", {"profiles": [{"id": "u-42", "subscriptions": payload}]}, format="json"
    )
    assert response.status_code == 400
    [item] = response.json()["errors"]
    assert (item["index"], item["field"]) == (0, "subscriptions")
    assert message in item["message"]
    assert not Subscription.objects.exists()


def test_unknown_profile_is_404(ingest: APIClient) -> None:
    assert ingest.get("/api/v1/profiles/nobody/subscriptions").status_code == 404
    response = ingest.patch(
        "/api/v1/profiles/nobody/subscriptions", {"email": "unsubscribed"}, format="json"
    )
    assert response.status_code == 404


def test_the_public_sdk_key_can_neither_read_nor_change_consent(project: Project) -> None:
    ProfileFactory(project=project, external_id="u-42")
    sdk = keyed(project.sdk_key)
    assert sdk.get("/api/v1/profiles/u-42/subscriptions").status_code == 403
    patch = sdk.patch("/api/v1/profiles/u-42/subscriptions", {"email": "subscribed"}, "json")
    assert patch.status_code == 403
    upsert = sdk.post(
        "/api/v1/profiles",
        {"profiles": [{"id": "u-42", "subscriptions": {"email": "subscribed"}}]},
        format="json",
    )
    assert upsert.status_code == 403
    assert not Subscription.objects.exists()


def test_a_key_of_another_project_never_reaches_this_profile(project: Project) -> None:
    ProfileFactory(project=project, external_id="u-42")
    other = keyed(ProjectFactory(name="Other").ingest_key)
    assert other.get("/api/v1/profiles/u-42/subscriptions").status_code == 404
    assert (
        other.patch(
            "/api/v1/profiles/u-42/subscriptions", {"email": "unsubscribed"}, "json"
        ).status_code
        == 404
    )
    assert keyed("nope").get("/api/v1/profiles/u-42/subscriptions").status_code == 401


def test_the_schema_documents_the_subscriptions_endpoint() -> None:
    import yaml
    from django.test import Client

    schema = yaml.safe_load(Client().get("/api/schema/").content)
    item = schema["paths"]["/api/v1/profiles/{profile_id}/subscriptions"]
    assert {"200", "401", "403", "404"} <= set(item["get"]["responses"])
    assert {"200", "400", "404"} <= set(item["patch"]["responses"])
    assert item["patch"]["operationId"] == "profile_subscriptions_update"
    schemas = schema["components"]["schemas"]
    status = schemas["ChannelSubscription"]["properties"]["status"]["$ref"].rsplit("/", 1)[-1]
    assert schemas[status]["enum"] == ["subscribed", "unsubscribed"]
