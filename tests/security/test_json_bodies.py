"""Every JSON body is bounded before parsing: deep, non-UTF-8 or out-of-range input gets a 400."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from engine.models import Event, Profile, Project
from journeys_site.parsers import JsonBodyInvalid, loads
from tests.engine.domain.examples import contract_example

pytestmark = pytest.mark.django_db

DEEP = "[" * 5000 + "]" * 5000


def post_raw(
    client: APIClient, url: str, body: bytes, content_type: str = "application/json"
) -> Any:
    return client.generic("POST", url, body, content_type=content_type)


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (
            "/api/v1/events",
            '{"events": [{"profile_id": "u", "name": "n", "properties": {"x": @}}]}',
        ),
        ("/api/v1/profiles", '{"profiles": [{"id": "u", "properties": {"x": @}}]}'),
        ("/api/v1/identify", '{"profile_id": "u", "properties": {"x": @}}'),
    ],
)
def test_deeply_nested_json_on_ingest_is_refused_with_where(
    ingest: APIClient, url: str, body: str
) -> None:
    response = post_raw(ingest, url, body.replace("@", DEEP).encode())
    assert response.status_code == 400
    message = response.json()["errors"][0]["message"]
    assert "nested deeper than 32 levels at line 1 column" in message
    assert not Event.objects.exists()
    assert not Profile.objects.exists()


@pytest.mark.parametrize("url", ["/api/v1/journeys", "/api/v1/journeys/import"])
def test_deeply_nested_json_on_the_marketer_api_is_refused(
    api: APIClient, project: Project, url: str
) -> None:
    body = (
        f'{{"project": {project.pk}, "name": "x", "format": "journeys/v1", "definition": {DEEP}}}'
    )
    response = post_raw(api, url, body.encode())
    assert response.status_code == 400
    assert "nested deeper than 32 levels" in response.json()["detail"]


def test_a_utf16_body_is_refused_before_its_escapes_are_trusted(
    ingest: APIClient,
) -> None:
    # UTF-16 hides "\u0000" from the raw-bytes scan; json.loads would still decode it.
    body = json.dumps(
        {"events": [{"profile_id": "u", "name": "n", "properties": {"x": "a\u0000b"}}]}
    ).encode("utf-16")
    response = post_raw(ingest, "/api/v1/events", body)
    assert response.status_code == 400
    assert "not UTF-8" in response.json()["errors"][0]["message"]
    assert not Event.objects.exists()


def test_a_latin1_body_is_refused_on_the_marketer_api(api: APIClient, project: Project) -> None:
    body = (f'{{"project": {project.pk}, "name": "Caf\xe9", "definition": {{}}}}').encode("latin-1")
    response = post_raw(api, "/api/v1/journeys", body)
    assert response.status_code == 400
    assert "not UTF-8: byte 0xe9" in response.json()["detail"]


@pytest.mark.parametrize("number", ["1e400", "-1e999", "123456789012345678901234567890"])
def test_numbers_out_of_range_are_refused_on_ingest(ingest: APIClient, number: str) -> None:
    body = '{"events": [{"profile_id": "u", "name": "n", "properties": {"x": @}}]}'.replace(
        "@", number
    )
    response = post_raw(ingest, "/api/v1/events", body.encode())
    assert response.status_code == 400
    assert "at line 1 column" in response.json()["errors"][0]["message"]
    assert not Event.objects.exists()


def test_numbers_out_of_range_are_refused_on_the_marketer_api(
    api: APIClient, project: Project
) -> None:
    definition = json.dumps(contract_example()).replace('"value": 50', '"value": 1e400', 1)
    body = f'{{"project": {project.pk}, "name": "x", "definition": {definition}}}'
    response = post_raw(api, "/api/v1/journeys", body.encode())
    assert response.status_code == 400
    assert "out of range" in response.json()["detail"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "a\u0000@b.co"),
        ("email", "\ud800@b.co"),
        ("push_tokens", [{"token": "t\u0000", "platform": "ios"}]),
        ("push_tokens", [{"token": "t", "platform": {"ios": 1}}]),
        ("push_tokens", [{"token": "t" * 5000, "platform": "ios"}]),
        ("timezone", "Europe/" + "x" * 100),
    ],
)
@pytest.mark.parametrize("url", ["/api/v1/profiles", "/api/v1/identify"])
def test_unstorable_profile_fields_are_refused_with_the_field(
    ingest: APIClient, url: str, field: str, value: Any
) -> None:
    item = {field: value}
    body = (
        {"profiles": [{"id": "u-1", **item}]}
        if url.endswith("profiles")
        else {"profile_id": "u-1", **item}
    )
    response = post_raw(ingest, url, json.dumps(body).encode())
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"].startswith(field)
    assert not Profile.objects.exists()


def test_an_ordinary_body_parses_as_before() -> None:
    body = '{"a": [1, 2.5, -3, "x\\u00e9", {"b": null, "c": true}], "d": 9223372036854775807}'
    assert loads(body.encode()) == json.loads(body)


def test_depth_is_counted_outside_strings_only() -> None:
    assert loads(json.dumps({"text": "[" * 100}).encode()) == {"text": "[" * 100}
    with pytest.raises(JsonBodyInvalid, match="nested deeper than 3 levels"):
        loads(b'{"a": {"b": {"c": {"d": 1}}}}', max_depth=3)
    assert loads(b'{"a": {"b": {"c": 1}}}', max_depth=3) == {"a": {"b": {"c": 1}}}


def test_a_body_over_the_limit_is_413() -> None:
    with pytest.raises(JsonBodyInvalid) as caught:
        loads(b"[" + b"1," * 100 + b"1]", max_bytes=50)
    assert caught.value.status == 413


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/a\u0000b",
        "https://fcm.googleapis.com/\ud800",
        "https://\ud800.example.com/x",
        "https://fcm.googleapis.com:99999999/x",
    ],
)
def test_web_push_subscriptions_refuse_unstorable_endpoints(
    ingest: APIClient, project: Project, endpoint: str
) -> None:
    from tests.factories import ProfileFactory

    ProfileFactory(project=project, external_id="u-1")
    subscription = {"endpoint": endpoint, "keys": {"p256dh": "B" * 87, "auth": "A" * 22}}
    body = json.dumps({"profile_id": "u-1", "subscription": subscription})
    response = post_raw(ingest, "/api/v1/web-push/subscriptions", body.encode())
    assert response.status_code == 400
    removed = ingest.generic(
        "DELETE",
        "/api/v1/web-push/subscriptions",
        json.dumps({"profile_id": "u-1", "endpoint": endpoint}),
        content_type="application/json",
    )
    assert removed.status_code in (200, 400)
    assert Profile.objects.get(external_id="u-1").push_tokens == []
