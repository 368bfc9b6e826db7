"""POST /api/v1/events: auth by ingest key, validation (all or nothing), dedupe, limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db.models import Count
from rest_framework.test import APIClient

from engine.models import Event, Profile, Project
from tests.conftest import client_for
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def post_events(client: APIClient, events: Any) -> Any:
    return client.post("/api/v1/events", {"events": events}, format="json")


def post_raw(client: APIClient, body: bytes | str) -> Any:
    return client.post("/api/v1/events", body, content_type="application/json")


def event(**overrides: Any) -> dict[str, Any]:
    return {"profile_id": "u-42", "name": "Added To Cart", **overrides}


def assert_rejected(response: Any, *errors: tuple[int | None, str | None]) -> None:
    """A 400 whose errors name exactly these (index, field) pairs, and nothing stored."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"errors"}
    assert [(e["index"], e["field"]) for e in body["errors"]] == list(errors)
    assert all(isinstance(e["message"], str) and e["message"] for e in body["errors"])
    assert Event.objects.count() == 0
    assert Profile.objects.count() == 0


# --- the happy path ------------------------------------------------------------------


def test_events_are_accepted_with_counts_and_stored(ingest: APIClient, project: Project) -> None:
    response = post_events(
        ingest,
        [
            event(id="e1", ts="2026-11-28T10:00:00Z", properties={"item": "Shoes", "price": 120}),
            event(id="e2", name="Charged", properties={"amount": 60}),
            event(profile_id="u-43"),
        ],
    )
    assert response.status_code == 202
    assert response.json() == {"accepted": 3, "duplicates": 0}
    stored = Event.objects.get(client_id="e1")
    assert stored.project == project
    assert stored.profile.external_id == "u-42"
    assert stored.name == "Added To Cart"
    assert stored.ts == datetime(2026, 11, 28, 10, tzinfo=UTC)
    assert stored.properties == {"item": "Shoes", "price": 120}
    assert Event.objects.filter(project=project).count() == 3


def test_a_profile_named_by_an_event_is_created_once(ingest: APIClient, project: Project) -> None:
    post_events(ingest, [event(), event(), event(profile_id="u-43")])
    post_events(ingest, [event()])
    assert sorted(
        Profile.objects.filter(project=project).values_list("external_id", flat=True)
    ) == [
        "u-42",
        "u-43",
    ]
    assert Event.objects.filter(profile__external_id="u-42").count() == 3


def test_an_event_of_an_existing_profile_keeps_its_data(
    ingest: APIClient, project: Project
) -> None:
    profile = ProfileFactory(project=project, external_id="u-42", properties={"plan": "pro"})
    post_events(ingest, [event()])
    profile.refresh_from_db()
    assert profile.properties == {"plan": "pro"}
    assert Event.objects.get().profile == profile


def test_an_event_without_ts_happens_now(ingest: APIClient) -> None:
    with time_machine.travel(NOW, tick=False):
        assert post_events(ingest, [event()]).status_code == 202
    assert Event.objects.get().ts == NOW


def test_a_ts_with_an_offset_is_stored_as_that_instant(ingest: APIClient) -> None:
    post_events(ingest, [event(ts="2026-11-28T15:30:00+05:30")])
    assert Event.objects.get().ts == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def test_a_ts_up_to_24_hours_ahead_is_accepted(ingest: APIClient) -> None:
    with time_machine.travel(NOW, tick=False):
        ahead = (NOW + timedelta(hours=23, minutes=59)).isoformat()
        assert post_events(ingest, [event(ts=ahead)]).status_code == 202


def test_properties_null_is_stored_as_an_empty_object(ingest: APIClient) -> None:
    assert post_events(ingest, [event(properties=None)]).status_code == 202
    assert Event.objects.get().properties == {}


def test_nested_and_unicode_properties_round_trip(ingest: APIClient) -> None:
    props = {"cart": [{"item": "Café crème ☕", "qty": 2}], "ok": True, "n": None, "f": 1.5}
    post_events(ingest, [event(properties=props)])
    assert Event.objects.get().properties == props


def test_an_event_id_seen_in_the_same_request_is_a_duplicate(ingest: APIClient) -> None:
    response = post_events(ingest, [event(id="a"), event(id="a"), event(id="b")])
    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "duplicates": 1}
    assert Event.objects.count() == 2


def test_a_retried_request_stores_nothing_twice(ingest: APIClient) -> None:
    batch = [event(id="a"), event(id="b", name="Charged")]
    assert post_events(ingest, batch).json() == {"accepted": 2, "duplicates": 0}
    assert post_events(ingest, batch).json() == {"accepted": 0, "duplicates": 2}
    assert post_events(ingest, [*batch, event(id="c")]).json() == {
        "accepted": 1,
        "duplicates": 2,
    }
    assert sorted(Event.objects.values_list("client_id", flat=True)) == ["a", "b", "c"]


def test_events_without_an_id_are_stored_every_time(ingest: APIClient) -> None:
    assert post_events(ingest, [event(), event()]).json() == {"accepted": 2, "duplicates": 0}
    assert post_events(ingest, [event(), event()]).json() == {"accepted": 2, "duplicates": 0}
    assert Event.objects.count() == 4
    assert set(Event.objects.values_list("client_id", flat=True)) == {None}


def test_a_full_batch_of_1000_events_is_accepted(ingest: APIClient) -> None:
    batch = [event(id=f"e{i}", profile_id=f"u-{i % 50}") for i in range(1000)]
    assert post_events(ingest, batch).json() == {"accepted": 1000, "duplicates": 0}
    assert Event.objects.count() == 1000
    assert Profile.objects.count() == 50


# --- projects are separate -----------------------------------------------------------


def test_a_key_of_project_a_never_touches_project_b(
    ingest: APIClient, project: Project, other_project: Project
) -> None:
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_project.ingest_key}")
    assert post_events(ingest, [event(id="same", properties={"p": "A"})]).json()["accepted"] == 1
    # The same client id and profile id in project B are B's own.
    assert post_events(other, [event(id="same", properties={"p": "B"})]).json()["accepted"] == 1

    a = Profile.objects.get(project=project, external_id="u-42")
    b = Profile.objects.get(project=other_project, external_id="u-42")
    assert a.pk != b.pk
    assert list(Event.objects.filter(profile=a).values_list("project_id", "properties")) == [
        (project.pk, {"p": "A"})
    ]
    assert list(Event.objects.filter(profile=b).values_list("project_id", "properties")) == [
        (other_project.pk, {"p": "B"})
    ]


# --- authentication ------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer pk_not_a_key",
        "Bearer",
        "Bearer two parts",
        "Basic dXNlcjpwYXNz",
        "pk_without_scheme",
    ],
    ids=["missing", "wrong", "no-key", "extra-part", "basic", "no-scheme"],
)
@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/profiles", "/api/v1/identify"])
def test_a_missing_wrong_or_malformed_key_is_401_in_the_error_shape(
    project: Project, header: str | None, path: str
) -> None:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    body = {"events": [event()], "profiles": [{"id": "u-42"}], "profile_id": "u-42"}
    response = client.post(path, body, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    errors = response.json()["errors"]
    assert len(errors) == 1
    assert errors[0]["index"] is None
    assert errors[0]["field"] is None
    assert errors[0]["message"]
    assert Event.objects.count() == 0
    assert Profile.objects.count() == 0


def test_a_marketer_token_is_not_accepted_on_ingest(marketer: Any, project: Project) -> None:
    response = post_events(client_for(marketer), [event()])
    assert response.status_code == 401
    assert "errors" in response.json()
    assert Event.objects.count() == 0


def test_a_browser_session_is_not_accepted_on_ingest(marketer: Any, project: Project) -> None:
    client = APIClient()
    assert client.login(username="ana", password="pw-for-tests")
    response = post_events(client, [event()])
    assert response.status_code == 401
    assert Event.objects.count() == 0


def test_a_deleted_projects_key_stops_working(ingest: APIClient, project: Project) -> None:
    project.delete()
    assert post_events(ingest, [event()]).status_code == 401


# --- validation: all or nothing ------------------------------------------------------


def test_an_invalid_event_rejects_the_whole_batch_and_stores_nothing(ingest: APIClient) -> None:
    response = post_events(ingest, [event(id="ok-1"), event(), event(name=""), event(id="ok-2")])
    assert_rejected(response, (2, "name"))


def test_every_invalid_event_is_reported_with_its_index_and_field(ingest: APIClient) -> None:
    response = post_events(
        ingest,
        [event(profile_id=None), event(), event(name=7, ts="yesterday"), "not an object"],
    )
    assert_rejected(response, (0, "profile_id"), (2, "name"), (2, "ts"), (3, None))


def test_only_the_last_of_1000_events_being_bad_rejects_all_of_them(ingest: APIClient) -> None:
    batch = [event(id=f"e{i}", profile_id=f"u-{i}") for i in range(999)]
    batch.append(event(properties=[1, 2]))
    assert_rejected(post_events(ingest, batch), (999, "properties"))


def test_1001_events_are_refused(ingest: APIClient) -> None:
    assert_rejected(post_events(ingest, [event() for _ in range(1001)]), (None, "events"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", None),
        (b'{"events": [', None),
        (b"", None),
        (b"   ", None),
        (b"\xff\xfe\x00", None),
        (b"[]", None),
        (b'"events"', None),
        (b"null", None),
        (b"{}", "events"),
        (b'{"events": null}', "events"),
        (b'{"events": {"profile_id": "u-42"}}', "events"),
        (b'{"events": "u-42"}', "events"),
        (b'{"events": []}', "events"),
    ],
    ids=[
        "malformed",
        "truncated",
        "empty",
        "blank",
        "not-utf8",
        "array",
        "string",
        "null",
        "no-events",
        "events-null",
        "events-object",
        "events-string",
        "events-empty",
    ],
)
def test_a_body_that_is_not_a_batch_is_400_with_nothing_stored(
    ingest: APIClient, body: bytes, field: str | None
) -> None:
    assert_rejected(post_raw(ingest, body), (None, field))


@pytest.mark.parametrize("item", [None, 1, "e", [], True], ids=repr)
def test_an_item_that_is_not_an_object_is_400(ingest: APIClient, item: Any) -> None:
    assert_rejected(post_events(ingest, [event(), item]), (1, None))


@pytest.mark.parametrize("field", ["profile_id", "name"])
@pytest.mark.parametrize(
    "value", ["<missing>", None, "", "   ", 42, 1.5, True, ["u"], {"id": "u"}], ids=repr
)
def test_a_missing_empty_or_non_string_profile_id_or_name_is_400(
    ingest: APIClient, field: str, value: Any
) -> None:
    item = event()
    if value == "<missing>":
        del item[field]
    else:
        item[field] = value
    assert_rejected(post_events(ingest, [item]), (0, field))


@pytest.mark.parametrize(("field", "limit"), [("profile_id", 255), ("name", 255), ("id", 128)])
def test_over_long_fields_are_400_and_the_longest_allowed_is_stored(
    ingest: APIClient, field: str, limit: int
) -> None:
    assert_rejected(post_events(ingest, [event(**{field: "x" * (limit + 1)})]), (0, field))
    response = post_events(ingest, [event(**{field: "é" * limit})])
    assert response.status_code == 202
    assert Event.objects.count() == 1


@pytest.mark.parametrize("value", [7, "", {"uuid": "a"}], ids=repr)
def test_an_event_id_that_is_not_a_non_empty_string_is_400(ingest: APIClient, value: Any) -> None:
    assert_rejected(post_events(ingest, [event(id=value)]), (0, "id"))


@pytest.mark.parametrize(
    "ts",
    [
        "yesterday",
        "2026-13-01T00:00:00Z",
        "2026-11-28T10:00:00",  # naive: no zone
        "2026-11-28",  # a date is naive too
        1764324000,
        ["2026-11-28T10:00:00Z"],
        "2026-11-30T12:00:01Z",  # more than 24 hours ahead
    ],
    ids=repr,
)
def test_a_bad_ts_is_400(ingest: APIClient, ts: Any) -> None:
    with time_machine.travel(NOW, tick=False):
        assert_rejected(post_events(ingest, [event(ts=ts)]), (0, "ts"))


@pytest.mark.parametrize(
    "ts",
    ["0001-01-01T00:00:00+01:00", "0001-01-01T00:30:00+05:30"],
    ids=["year-1-plus-1h", "year-1-plus-5h30"],
)
def test_a_ts_before_year_1_in_utc_is_400_not_a_server_error(ingest: APIClient, ts: str) -> None:
    # Parses with its offset, but cannot be converted to UTC (OverflowError).
    response = post_events(ingest, [event(ts=ts)])
    assert_rejected(response, (0, "ts"))


@pytest.mark.parametrize("props", [[1], "x", 3, True], ids=repr)
def test_properties_that_are_not_an_object_are_400(ingest: APIClient, props: Any) -> None:
    assert_rejected(post_events(ingest, [event(properties=props)]), (0, "properties"))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_or_infinity_in_properties_is_400(ingest: APIClient, literal: str) -> None:
    body = '{"events": [{"profile_id": "u", "name": "n", "properties": {"a": [1, {"b": %s}]}}]}'
    assert_rejected(post_raw(ingest, body % literal), (0, "properties"))


def test_nan_as_a_field_value_is_400(ingest: APIClient) -> None:
    assert_rejected(
        post_raw(ingest, '{"events": [{"profile_id": NaN, "name": "n"}]}'), (0, "profile_id")
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "Add\u0000ed"), ("profile_id", "u\u0000"), ("properties", {"a": "x\u0000y"})],
    ids=["name", "profile_id", "properties"],
)
def test_a_nul_character_is_400_not_a_server_error(
    ingest: APIClient, field: str, value: Any
) -> None:
    # PostgreSQL text and jsonb cannot hold U+0000: it must be refused, not crash.
    response = post_events(ingest, [event(**{field: value})])
    assert_rejected(response, (0, field))


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("name", '{"events": [{"profile_id": "u-42", "name": "bad \\ud800"}]}'),
        ("profile_id", '{"events": [{"profile_id": "\\udfff", "name": "n"}]}'),
        (
            "properties",
            '{"events": [{"profile_id": "u", "name": "n", "properties": {"a": "\\udfff"}}]}',
        ),
    ],
    ids=["name", "profile_id", "properties"],
)
def test_a_lone_surrogate_is_400_not_a_server_error(
    ingest: APIClient, field: str, body: str
) -> None:
    # Valid JSON escapes, but not encodable as UTF-8 for the database.
    assert_rejected(post_raw(ingest, body), (0, field))


# --- size limits ---------------------------------------------------------------------


def test_a_body_over_1_mib_is_413_with_nothing_stored(ingest: APIClient) -> None:
    big = "x" * (1024 * 1024)
    response = post_events(ingest, [event(properties={"blob": big})])
    assert response.status_code == 413
    assert response.json()["errors"][0]["field"] is None
    assert Event.objects.count() == 0


def test_a_body_over_djangos_own_limit_is_still_413_in_the_ingest_shape(
    ingest: APIClient,
) -> None:
    response = post_events(ingest, [event(properties={"blob": "x" * (5 * 1024 * 1024)})])
    assert response.status_code == 413
    assert "errors" in response.json()


def test_a_body_just_under_1_mib_is_accepted(ingest: APIClient) -> None:
    overhead = len(json.dumps({"events": [event(properties={"blob": ""})]}).encode())
    blob = "x" * (1024 * 1024 - overhead)
    response = post_events(ingest, [event(properties={"blob": blob})])
    assert response.status_code == 202


# --- other methods -------------------------------------------------------------------


def test_get_on_events_is_405(ingest: APIClient) -> None:
    assert ingest.get("/api/v1/events").status_code == 405


def test_duplicate_ids_never_create_two_rows_per_project(
    ingest: APIClient, project: Project
) -> None:
    for _ in range(3):
        post_events(ingest, [event(id=f"e{i}") for i in range(20)])
    counts = Event.objects.values("client_id").annotate(n=Count("id")).filter(n__gt=1)
    assert not counts.exists()
