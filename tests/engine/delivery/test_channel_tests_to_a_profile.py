"""Test sends that go to a profile, through POST /projects/<id>/channels/<channel>/test:
web push to a local push service that checks the VAPID signature and decrypts the
payload with each browser's keys; in-app through the SDK's real websocket, shown at once
on an open page or queued for the next one; 400s that say what is wrong with ``to``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.cache import cache
from rest_framework.test import APIClient

from engine import channel_tests
from engine.channels.web_push import project_vapid_keys
from engine.consent import subscription_set
from engine.models import Event, Profile, ProfileAlias, Project
from tests.engine.delivery.conftest import LocalServer, Reply
from tests.engine.delivery.test_in_app import connect, receive, socket
from tests.engine.delivery.test_web_push import Browser, vapid_claims
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _local_push_service(settings: Any) -> Iterator[None]:
    settings.JOURNEYS_WEBHOOK_ALLOW_PRIVATE = True  # the fake push service is on 127.0.0.1
    settings.DEFAULT_FROM_EMAIL = "ops@shop.example.com"
    # Test pop-ups wait in the cache: none may reach another test's page.
    cache.clear()
    yield
    cache.clear()


def endpoint(project: Project, channel: str) -> str:
    return f"/api/v1/projects/{project.pk}/channels/{channel}/test"


def post_test(api: APIClient, project: Project, channel: str, to: Any) -> Any:
    return api.post(endpoint(project, channel), {"to": to}, format="json")


# --- web push -----------------------------------------------------------------------------


def test_a_test_push_reaches_every_browser_of_the_profile_signed_and_encrypted(
    api: APIClient, project: Project, http_server: LocalServer
) -> None:
    laptop = Browser.new(f"{http_server.url}/push/laptop")
    phone = Browser.new(f"{http_server.url}/push/phone")
    ProfileFactory(project=project, external_id="u-42", push_tokens=[laptop.token(), phone.token()])
    http_server.reply(Reply(201, b""), Reply(201, b""))

    response = post_test(api, project, "web_push", "u-42")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["outcome"] == "sent"
    assert body["backend"] == "webpush"
    assert body["message"] == "Sent to 2 browsers of u-42."
    assert body["detail"]["sent_to"] == 2
    public, _ = project_vapid_keys(project.pk)
    by_path = {r.path: r for r in http_server.requests}
    assert set(by_path) == {"/push/laptop", "/push/phone"}
    for browser, path in ((laptop, "/push/laptop"), (phone, "/push/phone")):
        request = by_path[path]
        headers = {name.lower(): value for name, value in request.headers.items()}
        assert headers["content-encoding"] == "aes128gcm"
        claims = vapid_claims(headers["authorization"], public)
        assert claims["sub"] == "mailto:ops@shop.example.com"
        shown = browser.decrypt(request.body)
        assert shown["title"] == f"Test notification from Journeys ({project.name})"
        assert shown["body"] == "If you can see this, web push works for this browser."
        assert shown["tag"].startswith("journeys-test-")


def test_an_expired_subscription_is_removed_and_the_test_says_so(
    api: APIClient, project: Project, http_server: LocalServer
) -> None:
    gone = Browser.new(f"{http_server.url}/push/gone")
    profile = ProfileFactory(
        project=project, external_id="u-7", email="ana@example.com", push_tokens=[gone.token()]
    )
    http_server.reply(Reply(410, b"expired"))

    response = post_test(api, project, "web_push", "ana@example.com")  # by email

    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "failed"
    assert "1 subscription had expired and was removed (410)" in body["message"]
    assert "u-7 must allow notifications again" in body["message"]
    assert body["detail"]["removed"] == 1
    profile.refresh_from_db()
    assert profile.push_tokens == []


def test_a_profile_without_a_subscription_is_told_how_to_get_one(
    api: APIClient, project: Project
) -> None:
    ProfileFactory(project=project, external_id="u-1", push_tokens=[])

    response = post_test(api, project, "web_push", "u-1")

    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "skipped"
    assert "u-1 has no web push subscription" in body["message"]
    assert "allow notifications" in body["message"]


def test_a_record_only_web_push_sends_nothing(
    api: APIClient, project: Project, http_server: LocalServer, settings: Any
) -> None:
    settings.JOURNEYS_WEB_PUSH_BACKEND = "record"
    browser = Browser.new(f"{http_server.url}/push/x")
    ProfileFactory(project=project, external_id="u-2", push_tokens=[browser.token()])

    body = post_test(api, project, "web_push", "u-2").json()

    assert body["outcome"] == "recorded"
    assert "no provider" in body["message"]
    assert http_server.requests == []


# --- in-app -------------------------------------------------------------------------------


def test_an_in_app_test_with_no_page_open_is_queued_and_shown_once_on_the_next_page(
    api: APIClient, project: Project
) -> None:
    profile = ProfileFactory(project=project, external_id="u-42")
    ProfileAlias.objects.create(project=project, alias="anon-1", profile=profile)

    response = post_test(api, project, "in_app", "u-42")

    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "sent"
    assert body["detail"]["shown"] is False
    assert body["message"].startswith("Queued: no page of u-42 is open right now.")
    assert "next page view" in body["message"]
    state = api.get(f"/api/v1/projects/{project.pk}/channels/in_app").json()
    assert state["last_test"]["outcome"] == "sent"
    assert state["last_test"]["shown"] is False
    assert state["last_test"]["message"] == body["message"]
    assert "to" not in state["last_test"]  # whom it went to stays with the admins' page

    async def scenario() -> None:
        page = socket(project.sdk_key, "anon-1")  # the page still knows it by its alias
        await connect(page)
        item = await receive(page)
        assert item["type"] == "in_app"
        assert item["id"] < 0  # never an outbox row
        assert item["title"] == f"Test message from Journeys ({project.name})"
        assert item["expires_at"] == body["detail"]["expires_at"]
        # What the page reports back touches no message and records no event.
        await page.send_json_to({"type": "viewed", "id": item["id"]})
        assert await receive(page) == {
            "type": "ack",
            "id": item["id"],
            "action": "viewed",
            "ok": False,
        }
        await page.disconnect()
        again = socket(project.sdk_key, "u-42")
        await connect(again)
        assert await again.receive_nothing(timeout=1.2)  # handed over once
        await again.disconnect()

    async_to_sync(scenario)()
    assert not Event.objects.filter(project=project, name="Notification Viewed").exists()


def test_an_in_app_test_is_shown_at_once_on_an_open_page(api: APIClient, project: Project) -> None:
    ProfileFactory(project=project, external_id="u-42")

    async def scenario() -> dict[str, Any]:
        page = socket(project.sdk_key, "u-42")
        await connect(page)
        assert await page.receive_nothing(timeout=0.3)
        # The API answers from another thread while this loop's socket keeps polling.
        sending = asyncio.ensure_future(
            sync_to_async(post_test, thread_sensitive=False)(api, project, "in_app", "u-42")
        )
        item = await receive(page, timeout=3)
        response = await sending
        await page.disconnect()
        assert item["type"] == "in_app"
        return {"item": item, "response": response}

    out = async_to_sync(scenario)()
    assert out["response"].status_code == 200
    body = out["response"].json()
    assert body["detail"]["shown"] is True
    assert body["message"] == "Shown now on an open page of u-42."


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["web_push", "in_app"])
def test_bad_targets_are_a_400_naming_to(api: APIClient, project: Project, channel: str) -> None:
    ProfileFactory(project=project, external_id="u-1")

    missing = api.post(endpoint(project, channel), {}, format="json")
    assert missing.status_code == 400
    assert missing.json() == {"to": ["is required: a string"]}

    not_text = post_test(api, project, channel, 42)
    assert not_text.status_code == 400
    assert not_text.json() == {"to": ["is required: a string"]}

    empty = post_test(api, project, channel, "  ")
    assert empty.status_code == 400
    assert empty.json()["to"][0].startswith("is required: a profile's id or email")

    unknown = post_test(api, project, channel, "nobody@example.com")
    assert unknown.status_code == 400
    assert unknown.json() == {
        "to": [
            "names no profile of this project (no profile id, alias or email 'nobody@example.com')"
        ]
    }


def test_another_projects_profile_is_not_found(
    api: APIClient, project: Project, other_project: Project
) -> None:
    ProfileFactory(project=other_project, external_id="theirs")
    response = post_test(api, project, "in_app", "theirs")
    assert response.status_code == 400
    assert "names no profile of this project" in response.json()["to"][0]
    assert Profile.objects.filter(project=project).count() == 0


def test_two_waiting_test_pop_ups_each_reach_their_own_profile_once(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channel_tests, "LIVE_WAIT_SECONDS", 0)  # no page is open anyway
    ana = ProfileFactory(project=project, external_id="ana")
    bob = ProfileFactory(project=project, external_id="bob")
    nobody = ProfileFactory(project=project, external_id="nobody")
    first = channel_tests.send_test(project=project, channel="in_app", to="ana")
    second = channel_tests.send_test(project=project, channel="in_app", to="bob")
    assert first.detail["shown"] is second.detail["shown"] is False

    assert channel_tests.in_app_take([nobody.pk]) == {}
    taken = channel_tests.in_app_take([ana.pk, nobody.pk])
    assert list(taken) == [ana.pk]
    assert taken[ana.pk]["title"] == f"Test message from Journeys ({project.name})"
    assert channel_tests.in_app_take([ana.pk]) == {}  # handed over once
    assert list(channel_tests.in_app_take([ana.pk, bob.pk])) == [bob.pk]


# --- consent ------------------------------------------------------------------------------


def test_an_in_app_test_to_a_profile_that_unsubscribed_is_refused_saying_what_to_do(
    api: APIClient, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channel_tests, "LIVE_WAIT_SECONDS", 0)
    profile = ProfileFactory(project=project, external_id="u-7")
    at = datetime(2026, 11, 30, 9, tzinfo=UTC)
    subscription_set(profile_id=profile.pk, channel="in_app", subscribed=False, source="api", at=at)

    response = post_test(api, project, "in_app", "u-7")

    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "skipped"
    assert body["message"].startswith(
        "Not sent: u-7 unsubscribed from in-app messages on 2026-11-30. Choose another profile"
    )
    state = api.get(f"/api/v1/projects/{project.pk}/channels/in_app").json()
    assert state["last_test"]["outcome"] == "skipped"
    assert state["last_test"]["message"] == body["message"]
    assert channel_tests.in_app_take([profile.pk]) == {}  # no pop-up waits for its pages


def test_an_in_app_test_to_a_profile_that_consents_still_goes(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channel_tests, "LIVE_WAIT_SECONDS", 0)
    profile = ProfileFactory(project=project, external_id="u-8")
    # Unsubscribed from email only, and back on in-app after an unsubscribe.
    subscription_set(profile_id=profile.pk, channel="email", subscribed=False, source="api")
    subscription_set(profile_id=profile.pk, channel="in_app", subscribed=False, source="api")
    subscription_set(profile_id=profile.pk, channel="in_app", subscribed=True, source="api")

    result = channel_tests.send_test(project=project, channel="in_app", to="u-8")

    assert result.outcome == "sent"
    assert result.sentence.startswith("Queued: no page of u-8 is open right now.")
    assert list(channel_tests.in_app_take([profile.pk])) == [profile.pk]
