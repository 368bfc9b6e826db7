"""POST /api/v1/profiles: upsert with merged properties, field validation, all or nothing."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from engine.models import Profile, ProfileAlias, Project
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db


def upsert(client: APIClient, profiles: Any) -> Any:
    return client.post("/api/v1/profiles", {"profiles": profiles}, format="json")


def assert_rejected(response: Any, *errors: tuple[int | None, str | None]) -> None:
    assert response.status_code == 400, response.content
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == list(errors)


def test_new_profiles_are_created_with_their_fields(ingest: APIClient, project: Project) -> None:
    response = upsert(
        ingest,
        [
            {
                "id": "u-42",
                "email": "a@example.com",
                "phone": "+15550100",
                "timezone": "Asia/Kolkata",
                "properties": {"first_name": "Ana", "flight_time": "2026-11-28T14:00:00Z"},
            },
            {"id": "u-43"},
        ],
    )
    assert response.status_code == 200
    assert response.json() == {"created": 2, "updated": 0}
    profile = Profile.objects.get(project=project, external_id="u-42")
    assert (profile.email, profile.phone, profile.timezone) == (
        "a@example.com",
        "+15550100",
        "Asia/Kolkata",
    )
    assert profile.properties == {"first_name": "Ana", "flight_time": "2026-11-28T14:00:00Z"}


def test_existing_profiles_count_as_updated(ingest: APIClient, project: Project) -> None:
    ProfileFactory(project=project, external_id="u-42")
    response = upsert(ingest, [{"id": "u-42", "email": "a@example.com"}, {"id": "u-43"}])
    assert response.json() == {"created": 1, "updated": 1}


def test_properties_are_merged_and_a_key_sent_as_null_is_removed(
    ingest: APIClient, project: Project
) -> None:
    ProfileFactory(
        project=project,
        external_id="u-42",
        properties={"first_name": "Ana", "plan": "free", "city": "Paris"},
    )
    upsert(ingest, [{"id": "u-42", "properties": {"plan": "pro", "city": None, "age": 31}}])
    profile = Profile.objects.get(external_id="u-42")
    assert profile.properties == {"first_name": "Ana", "plan": "pro", "age": 31}


def test_keys_not_sent_leave_stored_values_alone(ingest: APIClient, project: Project) -> None:
    ProfileFactory(
        project=project,
        external_id="u-42",
        email="a@example.com",
        phone="+15550100",
        timezone="Europe/Paris",
        properties={"plan": "pro"},
        push_tokens=[{"token": "t1", "platform": "ios"}],
    )
    upsert(ingest, [{"id": "u-42"}])
    upsert(ingest, [{"id": "u-42", "properties": {}}])
    profile = Profile.objects.get(external_id="u-42")
    assert profile.email == "a@example.com"
    assert profile.phone == "+15550100"
    assert profile.timezone == "Europe/Paris"
    assert profile.properties == {"plan": "pro"}
    assert profile.push_tokens == [{"token": "t1", "platform": "ios"}]


@pytest.mark.parametrize("empty", [None, ""], ids=["null", "empty"])
def test_email_phone_and_timezone_sent_empty_are_cleared(
    ingest: APIClient, project: Project, empty: Any
) -> None:
    ProfileFactory(project=project, external_id="u-42", email="a@example.com", phone="+15550100")
    response = upsert(ingest, [{"id": "u-42", "email": empty, "phone": empty, "timezone": empty}])
    assert response.status_code == 200
    profile = Profile.objects.get(external_id="u-42")
    assert (profile.email, profile.phone, profile.timezone) == ("", "", "")


def test_sending_the_same_batch_twice_leaves_the_same_state(ingest: APIClient) -> None:
    batch = [{"id": "u-42", "email": "a@example.com", "properties": {"plan": "pro"}}]
    assert upsert(ingest, batch).json() == {"created": 1, "updated": 0}
    first = Profile.objects.values("email", "properties").get()
    assert upsert(ingest, batch).json() == {"created": 0, "updated": 1}
    assert Profile.objects.values("email", "properties").get() == first


def test_push_tokens_are_stored_with_a_default_platform(ingest: APIClient) -> None:
    response = upsert(
        ingest,
        [{"id": "u-42", "push_tokens": [{"token": "abc", "platform": "ios"}, {"token": "def"}]}],
    )
    assert response.status_code == 200
    assert Profile.objects.get().push_tokens == [
        {"token": "abc", "platform": "ios"},
        {"token": "def", "platform": "android"},
    ]


@pytest.mark.parametrize(
    "tokens",
    ["abc", [{"platform": "ios"}], [{"token": ""}], ["abc"], [{"token": "a", "platform": "fax"}]],
    ids=repr,
)
def test_bad_push_tokens_are_400(ingest: APIClient, tokens: Any) -> None:
    response = upsert(ingest, [{"id": "u-42", "push_tokens": tokens}])
    assert response.status_code == 400
    assert response.json()["errors"][0]["index"] == 0
    assert response.json()["errors"][0]["field"].startswith("push_tokens")
    assert not Profile.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("email", "a@b"),
        ("email", 42),
        ("email", "a" * 250 + "@example.com"),
        ("phone", "5550100"),
        ("phone", "+0123456789"),
        ("phone", "+1 555 0100"),
        ("phone", 15550100),
        ("timezone", "Mars/Olympus"),
        ("timezone", "../../etc/passwd"),
        ("timezone", 5),
        ("properties", [1]),
        ("properties", "x"),
        ("id", ""),
        ("id", 42),
        ("id", "x" * 256),
    ],
    ids=repr,
)
def test_a_bad_field_is_400_with_its_index_and_field(
    ingest: APIClient, field: str, value: Any
) -> None:
    item = {"id": "u-1", field: value}
    response = upsert(ingest, [{"id": "u-0"}, item])
    assert_rejected(response, (1, field))
    assert not Profile.objects.exists()


def test_a_missing_id_is_400(ingest: APIClient) -> None:
    assert_rejected(upsert(ingest, [{"email": "a@example.com"}]), (0, "id"))


def test_nan_in_properties_is_400(ingest: APIClient) -> None:
    response = ingest.post(
        "/api/v1/profiles",
        '{"profiles": [{"id": "u", "properties": {"score": NaN}}]}',
        content_type="application/json",
    )
    assert_rejected(response, (0, "properties"))


def test_a_duplicate_id_in_one_batch_is_400(ingest: APIClient) -> None:
    response = upsert(ingest, [{"id": "u-42"}, {"id": "u-43"}, {"id": "u-42"}])
    assert_rejected(response, (2, "id"))
    assert not Profile.objects.exists()


def test_one_bad_profile_rejects_the_whole_batch(ingest: APIClient, project: Project) -> None:
    ProfileFactory(project=project, external_id="u-1", properties={"plan": "free"})
    batch = [{"id": "u-1", "properties": {"plan": "pro"}}] + [{"id": f"n-{i}"} for i in range(998)]
    batch.append({"id": "bad", "email": "nope"})
    assert_rejected(upsert(ingest, batch), (999, "email"))
    assert Profile.objects.count() == 1
    assert Profile.objects.get().properties == {"plan": "free"}


@pytest.mark.parametrize(
    ("body", "field"),
    [(b"[]", None), (b"{}", "profiles"), (b'{"profiles": []}', "profiles"), (b"{", None)],
    ids=["array", "missing", "empty", "malformed"],
)
def test_a_body_that_is_not_a_batch_of_profiles_is_400(
    ingest: APIClient, body: bytes, field: str | None
) -> None:
    response = ingest.post("/api/v1/profiles", body, content_type="application/json")
    assert_rejected(response, (None, field))


def test_1001_profiles_are_refused(ingest: APIClient) -> None:
    assert_rejected(upsert(ingest, [{"id": f"u-{i}"} for i in range(1001)]), (None, "profiles"))


def test_a_profile_body_over_1_mib_is_413(ingest: APIClient) -> None:
    response = upsert(ingest, [{"id": "u", "properties": {"blob": "x" * (1024 * 1024)}}])
    assert response.status_code == 413
    assert not Profile.objects.exists()


def test_an_upsert_under_an_alias_updates_the_identified_profile(
    ingest: APIClient, project: Project
) -> None:
    target = ProfileFactory(project=project, external_id="u-42")
    ProfileAlias.objects.create(project=project, alias="anon-1", profile=target)
    response = upsert(ingest, [{"id": "anon-1", "properties": {"seen": True}}])
    assert response.json() == {"created": 0, "updated": 1}
    target.refresh_from_db()
    assert target.properties == {"seen": True}
    assert not Profile.objects.filter(external_id="anon-1").exists()


def test_profiles_of_another_project_are_not_touched(
    ingest: APIClient, other_project: Project
) -> None:
    other = ProfileFactory(project=other_project, external_id="u-42", email="b@example.com")
    assert upsert(ingest, [{"id": "u-42", "email": "a@example.com"}]).json()["created"] == 1
    other.refresh_from_db()
    assert other.email == "b@example.com"
