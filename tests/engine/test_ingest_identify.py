"""POST /api/v1/identify: fold an anonymous visitor into the identified profile."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from rest_framework.test import APIClient

from engine.models import Event, Profile, ProfileAlias, Project
from tests.factories import EventFactory, ProfileFactory

pytestmark = pytest.mark.django_db


def identify(client: APIClient, **body: Any) -> Any:
    return client.post("/api/v1/identify", body, format="json")


def user_hash(project: Project, profile_id: str) -> str:
    return hmac.new(
        project.identity_secret.encode(), profile_id.encode(), hashlib.sha256
    ).hexdigest()


@pytest.fixture
def anonymous(project: Project) -> Profile:
    anon = ProfileFactory(
        project=project,
        external_id="anon-1",
        properties={"first_name": "Visitor", "utm": "ads"},
        timezone="Asia/Kolkata",
    )
    EventFactory(profile=anon, name="Page Viewed")
    EventFactory(profile=anon, name="Added To Cart")
    return anon


def test_identify_creates_the_profile_and_reports_it(ingest: APIClient, project: Project) -> None:
    response = identify(ingest, profile_id="u-42", properties={"first_name": "Ana"})
    assert response.status_code == 200
    assert response.json() == {"profile_id": "u-42", "created": True, "merged": False}
    assert Profile.objects.get(project=project, external_id="u-42").properties == {
        "first_name": "Ana"
    }


def test_the_anonymous_profiles_events_move_to_the_identified_profile(
    ingest: APIClient, project: Project, anonymous: Profile
) -> None:
    target = ProfileFactory(project=project, external_id="u-42", properties={"plan": "pro"})
    EventFactory(profile=target, name="Charged")
    response = identify(
        ingest, profile_id="u-42", anonymous_id="anon-1", properties={"first_name": "Ana"}
    )
    assert response.status_code == 200
    assert response.json() == {"profile_id": "u-42", "created": False, "merged": True}

    target.refresh_from_db()
    assert sorted(Event.objects.filter(profile=target).values_list("name", flat=True)) == [
        "Added To Cart",
        "Charged",
        "Page Viewed",
    ]
    assert not Profile.objects.filter(pk=anonymous.pk).exists()
    # Identified wins; the anonymous profile fills the gaps.
    assert target.properties == {"first_name": "Ana", "utm": "ads", "plan": "pro"}
    assert target.timezone == "Asia/Kolkata"
    assert ProfileAlias.objects.get(project=project, alias="anon-1").profile == target


def test_later_events_sent_under_the_anonymous_id_land_on_the_identified_profile(
    ingest: APIClient, project: Project, anonymous: Profile
) -> None:
    identify(ingest, profile_id="u-42", anonymous_id="anon-1")
    response = ingest.post(
        "/api/v1/events",
        {"events": [{"profile_id": "anon-1", "name": "Late Event"}]},
        format="json",
    )
    assert response.status_code == 202
    late = Event.objects.get(name="Late Event")
    assert late.profile.external_id == "u-42"
    assert not Profile.objects.filter(project=project, external_id="anon-1").exists()


def test_a_repeated_identify_is_a_no_op(
    ingest: APIClient, project: Project, anonymous: Profile
) -> None:
    identify(ingest, profile_id="u-42", anonymous_id="anon-1")
    response = identify(ingest, profile_id="u-42", anonymous_id="anon-1")
    assert response.status_code == 200
    assert response.json() == {"profile_id": "u-42", "created": False, "merged": False}
    assert Profile.objects.filter(project=project).count() == 1
    assert ProfileAlias.objects.filter(project=project).count() == 1
    assert Event.objects.filter(profile__external_id="u-42").count() == 2


def test_identify_with_the_anonymous_id_equal_to_the_profile_id_merges_nothing(
    ingest: APIClient, project: Project
) -> None:
    ProfileFactory(project=project, external_id="u-42")
    response = identify(ingest, profile_id="u-42", anonymous_id="u-42")
    assert response.json()["merged"] is False
    assert Profile.objects.filter(external_id="u-42").exists()
    assert not ProfileAlias.objects.exists()


def test_an_unknown_anonymous_id_merges_nothing(ingest: APIClient) -> None:
    response = identify(ingest, profile_id="u-42", anonymous_id="never-seen")
    assert response.json() == {"profile_id": "u-42", "created": True, "merged": False}


def test_identify_never_merges_across_projects(ingest: APIClient, other_project: Project) -> None:
    foreign = ProfileFactory(project=other_project, external_id="anon-1")
    EventFactory(profile=foreign)
    assert identify(ingest, profile_id="u-42", anonymous_id="anon-1").json()["merged"] is False
    assert Profile.objects.filter(pk=foreign.pk).exists()
    assert Event.objects.get().profile == foreign


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "profile_id"),
        ({"profile_id": ""}, "profile_id"),
        ({"profile_id": 42}, "profile_id"),
        ({"profile_id": "u", "anonymous_id": 7}, "anonymous_id"),
        ({"profile_id": "u", "email": "nope"}, "email"),
        ({"profile_id": "u", "properties": [1]}, "properties"),
    ],
    ids=repr,
)
def test_a_bad_identify_is_400_with_the_field(
    ingest: APIClient, body: dict[str, Any], field: str
) -> None:
    response = ingest.post("/api/v1/identify", body, format="json")
    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(None, field)]
    assert not Profile.objects.exists()


def test_identify_of_a_non_object_is_400(ingest: APIClient) -> None:
    response = ingest.post("/api/v1/identify", b"[]", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["index"] is None


# --- identity verification ---------------------------------------------------------


@pytest.fixture
def verified(project: Project) -> Project:
    project.identity_verification = True
    project.save()
    return project


@pytest.mark.parametrize("given", [None, "0" * 64, "not-hex", "A" * 100], ids=repr)
def test_with_identity_verification_on_identify_without_a_valid_hash_is_403(
    ingest: APIClient, verified: Project, anonymous: Profile, given: str | None
) -> None:
    body: dict[str, Any] = {"profile_id": "u-42", "anonymous_id": "anon-1"}
    if given is not None:
        body["user_hash"] = given
    response = ingest.post("/api/v1/identify", body, format="json")
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "user_hash"
    assert not Profile.objects.filter(external_id="u-42").exists()
    assert Profile.objects.filter(pk=anonymous.pk).exists()


def test_an_empty_user_hash_is_refused_naming_the_field(
    ingest: APIClient, verified: Project
) -> None:
    response = identify(ingest, profile_id="u-42", user_hash="")
    assert response.status_code in {400, 403}
    assert response.json()["errors"][0]["field"] == "user_hash"
    assert not Profile.objects.exists()


def test_with_identity_verification_on_a_hash_for_another_profile_is_403(
    ingest: APIClient, verified: Project
) -> None:
    response = identify(ingest, profile_id="u-42", user_hash=user_hash(verified, "u-43"))
    assert response.status_code == 403


def test_with_identity_verification_on_a_non_ascii_hash_is_403_not_a_server_error(
    ingest: APIClient, verified: Project
) -> None:
    # hmac.compare_digest raises TypeError on non-ASCII str arguments.
    response = identify(ingest, profile_id="u-42", user_hash="é" * 64)
    assert response.status_code == 403


def test_with_identity_verification_on_the_right_hash_is_200(
    ingest: APIClient, verified: Project, anonymous: Profile
) -> None:
    response = identify(
        ingest, profile_id="u-42", anonymous_id="anon-1", user_hash=user_hash(verified, "u-42")
    )
    assert response.status_code == 200
    assert response.json()["merged"] is True


def test_with_identity_verification_off_no_hash_is_needed(
    ingest: APIClient, project: Project
) -> None:
    assert identify(ingest, profile_id="u-42").status_code == 200
