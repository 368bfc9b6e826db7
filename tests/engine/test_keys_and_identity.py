"""Server key and public SDK key: what each may do, rotation, and no profile takeover.

The two findings of the security review: identify merged any existing profile named as
`anonymous_id` into the caller's, and the public key changed identified profiles' email and
phone through /profiles even with identity verification on.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from rest_framework.test import APIClient

from engine.models import Event, Profile, ProfileAlias, Project
from tests.factories import EventFactory, ProfileFactory

pytestmark = pytest.mark.django_db


def user_hash(project: Project, profile_id: str) -> str:
    return hmac.new(
        project.identity_secret.encode(), profile_id.encode(), hashlib.sha256
    ).hexdigest()


def keyed(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def sdk(project: Project) -> APIClient:
    """A browser's client: the project's public SDK key."""
    return keyed(project.sdk_key)


@pytest.fixture
def victim(project: Project) -> Profile:
    """A real customer, known to the server (made through the server key)."""
    profile = ProfileFactory(
        project=project,
        external_id="victim",
        email="victim@example.com",
        phone="+15550100",
        properties={"first_name": "Vera", "plan": "gold"},
    )
    EventFactory(profile=profile, name="Charged")
    return profile


def post(client: APIClient, path: str, body: Any) -> Any:
    return client.post(path, body, format="json")


def test_a_project_has_a_server_key_and_a_public_sdk_key(api: APIClient) -> None:
    body = post(api, "/api/v1/projects", {"name": "Shop", "timezone": "UTC"}).json()
    assert body["ingest_key"]
    assert body["sdk_key"]
    assert body["ingest_key"] != body["sdk_key"]


def test_events_identify_and_profiles_accept_the_sdk_key(sdk: APIClient, project: Project) -> None:
    assert (
        post(sdk, "/api/v1/events", {"events": [{"profile_id": "anon-1", "name": "A"}]}).status_code
        == 202
    )
    assert (
        post(
            sdk, "/api/v1/profiles", {"profiles": [{"id": "anon-1", "properties": {"x": 1}}]}
        ).status_code
        == 200
    )
    assert (
        post(sdk, "/api/v1/identify", {"profile_id": "u-1", "anonymous_id": "anon-1"}).json()[
            "merged"
        ]
        is True
    )


# --- takeover through identify -----------------------------------------------------


def test_identify_with_the_sdk_key_never_merges_a_profile_the_server_made(
    sdk: APIClient, project: Project, victim: Profile
) -> None:
    victim.email = victim.phone = ""
    victim.save()
    response = post(
        sdk,
        "/api/v1/identify",
        {"profile_id": "attacker", "anonymous_id": "victim", "properties": {"x": 1}},
    )
    assert response.status_code == 200
    assert response.json()["merged"] is False
    victim.refresh_from_db()
    assert victim.properties == {"first_name": "Vera", "plan": "gold"}
    assert Event.objects.filter(profile=victim, name="Charged").exists()
    assert not ProfileAlias.objects.filter(project=project, alias="victim").exists()


@pytest.mark.parametrize("key", ["sdk", "server"])
def test_identify_never_merges_a_profile_with_an_email_or_phone(
    key: str, project: Project, victim: Profile
) -> None:
    client = keyed(project.sdk_key if key == "sdk" else project.ingest_key)
    response = post(
        client,
        "/api/v1/identify",
        {"profile_id": "attacker", "anonymous_id": "victim", "user_hash": "x"},
    )
    assert response.status_code == 200
    assert response.json()["merged"] is False
    victim.refresh_from_db()
    assert victim.email == "victim@example.com"
    attacker = Profile.objects.get(project=project, external_id="attacker")
    assert attacker.email == ""
    assert not Event.objects.filter(profile=attacker).exists()


@pytest.mark.parametrize("key", ["sdk", "server"])
def test_identify_never_merges_a_profile_that_was_identified(key: str, project: Project) -> None:
    client = keyed(project.sdk_key if key == "sdk" else project.ingest_key)
    assert post(client, "/api/v1/identify", {"profile_id": "ana"}).status_code == 200
    post(client, "/api/v1/events", {"events": [{"profile_id": "ana", "name": "Charged"}]})
    response = post(client, "/api/v1/identify", {"profile_id": "mallory", "anonymous_id": "ana"})
    assert response.json()["merged"] is False
    ana = Profile.objects.get(project=project, external_id="ana")
    assert ana.identified_at is not None
    assert Event.objects.filter(profile=ana).count() == 1


def test_a_visitor_the_sdk_made_is_merged_on_identify(sdk: APIClient, project: Project) -> None:
    post(sdk, "/api/v1/events", {"events": [{"profile_id": "anon-7", "name": "Page Viewed"}]})
    response = post(sdk, "/api/v1/identify", {"profile_id": "u-7", "anonymous_id": "anon-7"})
    assert response.json() == {"profile_id": "u-7", "created": True, "merged": True}
    target = Profile.objects.get(project=project, external_id="u-7")
    assert Event.objects.filter(profile=target, name="Page Viewed").exists()
    assert not target.anonymous
    assert target.identified_at is not None


def test_a_visitor_the_server_key_named_is_no_longer_anonymous_for_the_sdk_key(
    sdk: APIClient, ingest: APIClient, project: Project
) -> None:
    post(sdk, "/api/v1/events", {"events": [{"profile_id": "anon-8", "name": "Page Viewed"}]})
    post(ingest, "/api/v1/events", {"events": [{"profile_id": "anon-8", "name": "Charged"}]})
    response = post(sdk, "/api/v1/identify", {"profile_id": "x", "anonymous_id": "anon-8"})
    assert response.json()["merged"] is False


def test_a_web_page_still_using_the_server_key_keeps_merging_its_visitors(
    ingest: APIClient, project: Project
) -> None:
    post(ingest, "/api/v1/events", {"events": [{"profile_id": "anon-9", "name": "Page Viewed"}]})
    response = post(ingest, "/api/v1/identify", {"profile_id": "u-9", "anonymous_id": "anon-9"})
    assert response.json()["merged"] is True


# --- the SDK key and identified profiles -------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "evil@example.com"), ("phone", "+15559999"), ("push_tokens", [{"token": "t"}])],
)
def test_the_sdk_key_cannot_change_contact_fields_of_an_identified_profile(
    sdk: APIClient, victim: Profile, field: str, value: Any
) -> None:
    response = post(sdk, "/api/v1/profiles", {"profiles": [{"id": "victim", field: value}]})
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == field
    victim.refresh_from_db()
    assert (victim.email, victim.phone, victim.push_tokens) == (
        "victim@example.com",
        "+15550100",
        [],
    )


def test_the_sdk_key_cannot_change_contact_fields_through_identify(
    sdk: APIClient, victim: Profile
) -> None:
    response = post(sdk, "/api/v1/identify", {"profile_id": "victim", "email": "evil@example.com"})
    assert response.status_code == 403
    assert response.json()["errors"][0] == {
        "index": None,
        "field": "email",
        "message": response.json()["errors"][0]["message"],
    }
    victim.refresh_from_db()
    assert victim.email == "victim@example.com"


def test_a_refused_profiles_batch_stores_nothing_of_it(
    sdk: APIClient, project: Project, victim: Profile
) -> None:
    response = post(
        sdk,
        "/api/v1/profiles",
        {
            "profiles": [
                {"id": "new-1", "properties": {"a": 1}},
                {"id": "victim", "email": "e@x.io"},
            ]
        },
    )
    assert response.status_code == 403
    assert response.json()["errors"][0]["index"] == 1
    assert not Profile.objects.filter(project=project, external_id="new-1").exists()


def test_the_sdk_key_sets_properties_of_an_identified_profile_when_verification_is_off(
    sdk: APIClient, victim: Profile
) -> None:
    response = post(
        sdk, "/api/v1/profiles", {"profiles": [{"id": "victim", "properties": {"seen": 1}}]}
    )
    assert response.status_code == 200
    victim.refresh_from_db()
    assert victim.properties["seen"] == 1


def test_the_sdk_key_may_give_its_own_anonymous_visitor_an_email(
    sdk: APIClient, project: Project
) -> None:
    post(sdk, "/api/v1/events", {"events": [{"profile_id": "anon-2", "name": "Page Viewed"}]})
    response = post(sdk, "/api/v1/profiles", {"profiles": [{"id": "anon-2", "email": "me@x.io"}]})
    assert response.status_code == 200
    assert Profile.objects.get(project=project, external_id="anon-2").email == "me@x.io"


@pytest.fixture
def verified(project: Project) -> Project:
    project.identity_verification = True
    project.save()
    return project


def test_with_verification_on_the_sdk_key_needs_the_hash_to_set_properties(
    sdk: APIClient, verified: Project, victim: Profile
) -> None:
    body = {"profiles": [{"id": "victim", "properties": {"plan": "free"}}]}
    response = post(sdk, "/api/v1/profiles", body)
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "user_hash"
    victim.refresh_from_db()
    assert victim.properties["plan"] == "gold"
    body["profiles"][0]["user_hash"] = user_hash(verified, "victim")
    assert post(sdk, "/api/v1/profiles", body).status_code == 200
    victim.refresh_from_db()
    assert victim.properties["plan"] == "free"


def test_with_verification_on_sdk_events_naming_an_identified_profile_need_its_hash(
    sdk: APIClient, verified: Project, victim: Profile
) -> None:
    events = [
        {"profile_id": "anon-3", "name": "Page Viewed"},
        {"profile_id": "victim", "name": "Added To Cart"},
    ]
    response = post(sdk, "/api/v1/events", {"events": events})
    assert response.status_code == 403
    assert response.json()["errors"][0]["index"] == 1
    assert not Event.objects.filter(
        project=verified, name__in=["Page Viewed", "Added To Cart"]
    ).exists()
    assert not Profile.objects.filter(project=verified, external_id="anon-3").exists()
    events[1]["user_hash"] = user_hash(verified, "victim")
    assert post(sdk, "/api/v1/events", {"events": events}).status_code == 202
    assert Event.objects.filter(profile=victim, name="Added To Cart").exists()


def test_with_verification_on_an_old_anonymous_id_does_not_get_around_the_hash(
    sdk: APIClient, verified: Project
) -> None:
    post(sdk, "/api/v1/events", {"events": [{"profile_id": "anon-4", "name": "Page Viewed"}]})
    merged = post(
        sdk,
        "/api/v1/identify",
        {"profile_id": "u-4", "anonymous_id": "anon-4", "user_hash": user_hash(verified, "u-4")},
    )
    assert merged.json()["merged"] is True
    late = post(sdk, "/api/v1/events", {"events": [{"profile_id": "anon-4", "name": "Charged"}]})
    assert late.status_code == 403
    signed = {"profile_id": "anon-4", "name": "Charged", "user_hash": user_hash(verified, "u-4")}
    assert post(sdk, "/api/v1/events", {"events": [signed]}).status_code == 202


def test_with_verification_on_anonymous_visitors_need_no_hash(
    sdk: APIClient, verified: Project
) -> None:
    body = {"events": [{"profile_id": "anon-5", "name": "Page Viewed"}]}
    assert post(sdk, "/api/v1/events", body).status_code == 202
    assert post(sdk, "/api/v1/events", body).status_code == 202


def test_with_verification_on_the_server_key_needs_no_hash(
    ingest: APIClient, verified: Project, victim: Profile
) -> None:
    body = {"profiles": [{"id": "victim", "email": "new@example.com"}]}
    assert post(ingest, "/api/v1/profiles", body).status_code == 200
    assert (
        post(
            ingest, "/api/v1/events", {"events": [{"profile_id": "victim", "name": "X"}]}
        ).status_code
        == 202
    )


# --- rotation ---------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "field"), [("ingest", "ingest_key"), ("sdk", "sdk_key")])
def test_an_admin_rotates_a_key_and_the_old_one_answers_401(
    api: APIClient, project: Project, kind: str, field: str
) -> None:
    old = getattr(project, field)
    response = post(api, f"/api/v1/projects/{project.pk}/keys/rotate", {"key": kind})
    assert response.status_code == 200
    new = response.json()[field]
    assert new != old
    body = {"events": [{"profile_id": "u", "name": "A"}]}
    assert post(keyed(old), "/api/v1/events", body).status_code == 401
    assert post(keyed(new), "/api/v1/events", body).status_code == 202
    other = "sdk_key" if field == "ingest_key" else "ingest_key"
    assert response.json()[other] == getattr(project, other)


def test_a_viewer_cannot_rotate_keys(viewer_api: APIClient, project: Project) -> None:
    response = post(viewer_api, f"/api/v1/projects/{project.pk}/keys/rotate", {"key": "ingest"})
    assert response.status_code == 403
    project.refresh_from_db()
    assert (
        post(
            keyed(project.ingest_key),
            "/api/v1/events",
            {"events": [{"profile_id": "u", "name": "A"}]},
        ).status_code
        == 202
    )


def test_another_projects_member_cannot_rotate_keys(other_api: APIClient, project: Project) -> None:
    response = post(other_api, f"/api/v1/projects/{project.pk}/keys/rotate", {"key": "sdk"})
    assert response.status_code == 404


def test_an_unknown_key_kind_is_400(api: APIClient, project: Project) -> None:
    response = post(api, f"/api/v1/projects/{project.pk}/keys/rotate", {"key": "root"})
    assert response.status_code == 400
    assert "key" in response.json()


def test_the_server_key_used_from_a_browser_is_noted_for_the_settings_warning(
    project: Project,
) -> None:
    client = keyed(project.ingest_key)
    client.post(
        "/api/v1/events",
        {"events": [{"profile_id": "u", "name": "A"}]},
        format="json",
        HTTP_ORIGIN="https://shop.example",
    )
    project.refresh_from_db()
    assert project.ingest_key_seen_in_browser_at is not None
    sdk_client = keyed(project.sdk_key)
    project.ingest_key_seen_in_browser_at = None
    project.save()
    sdk_client.post(
        "/api/v1/events",
        {"events": [{"profile_id": "u2", "name": "A"}]},
        format="json",
        HTTP_ORIGIN="https://shop.example",
    )
    project.refresh_from_db()
    assert project.ingest_key_seen_in_browser_at is None
