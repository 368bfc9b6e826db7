"""The web SDK's in-app socket ``/ws/sdk/in-app/`` through the real ASGI stack: a page gets
its profile's queued messages on connect and new ones within 2 s, from any origin; keys and
user_hash are enforced; what the visitor did comes back as statuses and events, once."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from engine import in_app
from engine.delivery import deliver_message
from engine.models import Event, Message, Profile, ProfileAlias, Project
from engine.services import identity_hash
from journeys_site.asgi import application
from tests.engine.delivery.conftest import MakeMessage
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER_SITE = "https://shop.example.com"  # the SDK runs on the customer's pages


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


def rendered(title: str = "Hi Ana", **extra: Any) -> dict[str, Any]:
    expires = (timezone.now() + timedelta(hours=24)).isoformat()
    return {
        "title": title,
        "body": "Your cart misses you",
        "button_text": "See cart",
        "button_url": "https://shop.example.com/cart",
        "expires_at": expires,
        **extra,
    }


def socket(key: str, profile_id: str, user_hash: str | None = None) -> WebsocketCommunicator:
    query = {"key": key, "profile_id": profile_id}
    if user_hash is not None:
        query["user_hash"] = user_hash
    headers = [(b"host", b"journeys.example.com"), (b"origin", CUSTOMER_SITE.encode())]
    return WebsocketCommunicator(application, f"/ws/sdk/in-app/?{urlencode(query)}", headers)


async def connect(comm: WebsocketCommunicator) -> None:
    connected, _ = await comm.connect()
    assert connected


async def receive(comm: WebsocketCommunicator, timeout: float = 2) -> dict[str, Any]:
    message: dict[str, Any] = await comm.receive_json_from(timeout=timeout)
    assert json.loads(json.dumps(message)) == message  # serialisable as sent
    return message


async def closed_with(comm: WebsocketCommunicator) -> int:
    await connect(comm)  # accepted first, so that a browser can read the code
    while True:
        output = await comm.receive_output(timeout=2)
        if output["type"] == "websocket.close":
            return int(output["code"])


@pytest.fixture
def profile(make_message: MakeMessage) -> Profile:
    # make_message's project is the one every message of these tests belongs to.
    project = Project.objects.get(name="Shop")
    return ProfileFactory(project=project, external_id="u-42")


def test_a_page_gets_queued_messages_on_connect_and_new_ones_within_2_s(
    make_message: MakeMessage, profile: Profile
) -> None:
    queued = make_message("in_app", rendered("While you were away"), profile=profile)
    assert deliver_message(queued.pk).status == Message.Status.SENT  # stored for the SDK

    async def scenario() -> None:
        comm = socket(profile.project.sdk_key, "u-42")
        await connect(comm)
        first = await receive(comm)
        assert first == {
            "type": "in_app",
            "id": queued.pk,
            "title": "While you were away",
            "body": "Your cart misses you",
            "button_text": "See cart",
            "button_url": "https://shop.example.com/cart",
            "expires_at": queued.rendered["expires_at"],
        }
        live = await sync_to_async(make_message)("in_app", rendered("Live"), profile=profile)
        started = time.monotonic()
        await sync_to_async(deliver_message)(live.pk)
        second = await receive(comm)
        assert time.monotonic() - started < 2
        assert (second["id"], second["title"]) == (live.pk, "Live")
        assert await comm.receive_nothing(timeout=0.8)  # each message once
        await comm.disconnect()

    run(scenario)
    statuses = dict(Message.objects.values_list("rendered__title", "status"))
    assert statuses == {"While you were away": "delivered", "Live": "delivered"}


def test_a_message_handed_to_a_page_that_closed_unviewed_is_shown_again(
    make_message: MakeMessage, profile: Profile
) -> None:
    message = make_message("in_app", rendered(), profile=profile)
    deliver_message(message.pk)

    async def scenario() -> None:
        for _ in range(2):
            comm = socket(profile.project.sdk_key, "u-42")
            await connect(comm)
            assert (await receive(comm))["id"] == message.pk
            await comm.disconnect()
        comm = socket(profile.project.sdk_key, "u-42")
        await connect(comm)
        await receive(comm)
        await comm.send_json_to({"type": "viewed", "id": message.pk})
        assert (await receive(comm))["type"] == "ack"
        await comm.disconnect()
        again = socket(profile.project.sdk_key, "u-42")
        await connect(again)
        assert await again.receive_nothing(timeout=0.8)  # viewed: not shown again
        await again.disconnect()

    run(scenario)


def test_expired_unsent_and_other_profiles_messages_are_not_shown(
    make_message: MakeMessage, profile: Profile
) -> None:
    past = (timezone.now() - timedelta(seconds=1)).isoformat()
    expired = make_message("in_app", rendered("Expired", expires_at=past), profile=profile)
    deliver_message(expired.pk)
    make_message("in_app", rendered("Still queued"), profile=profile)  # not stored yet
    other = make_message("in_app", rendered("Someone else's"))
    deliver_message(other.pk)
    mail = make_message("email", {"to": "a@example.com", "subject": "S"}, profile=profile)
    Message.objects.filter(pk=mail.pk).update(status="sent")

    async def scenario() -> None:
        comm = socket(profile.project.sdk_key, "u-42")
        await connect(comm)
        assert await comm.receive_nothing(timeout=1.2)
        await comm.disconnect()

    run(scenario)
    assert Message.objects.get(pk=expired.pk).status == Message.Status.SENT


def test_an_anonymous_id_that_identified_reaches_the_profile(
    make_message: MakeMessage, profile: Profile
) -> None:
    ProfileAlias.objects.create(project=profile.project, alias="anon-1", profile=profile)
    message = make_message("in_app", rendered(), profile=profile)
    deliver_message(message.pk)

    async def scenario() -> None:
        comm = socket(profile.project.sdk_key, "anon-1")
        await connect(comm)
        assert (await receive(comm))["id"] == message.pk
        await comm.disconnect()

    run(scenario)


def test_a_wrong_key_or_a_missing_profile_id_is_refused_with_a_close_code(
    profile: Profile,
) -> None:
    async def scenario() -> None:
        assert await closed_with(socket("sdk_wrong", "u-42")) == in_app.CLOSE_UNAUTHENTICATED
        assert await closed_with(socket(profile.project.sdk_key, "")) == in_app.CLOSE_BAD_REQUEST

    run(scenario)


def test_with_identity_verification_on_only_the_right_user_hash_listens(
    make_message: MakeMessage, profile: Profile
) -> None:
    project = profile.project
    Project.objects.filter(pk=project.pk).update(identity_verification=True)
    project.refresh_from_db()
    message = make_message("in_app", rendered(), profile=profile)
    deliver_message(message.pk)
    good = identity_hash(project, "u-42")

    async def scenario() -> None:
        for bad in (None, "", "00" * 32, identity_hash(project, "u-43")):
            code = await closed_with(socket(project.sdk_key, "u-42", bad))
            assert code == in_app.CLOSE_FORBIDDEN
        # The server key does not get around it either.
        assert await closed_with(socket(project.ingest_key, "u-42")) == in_app.CLOSE_FORBIDDEN
        comm = socket(project.sdk_key, "u-42", good)
        await connect(comm)
        assert (await receive(comm))["id"] == message.pk
        await comm.disconnect()

    run(scenario)


def test_viewed_and_clicked_become_statuses_and_events_counted_once(
    make_message: MakeMessage, profile: Profile
) -> None:
    message = make_message("in_app", rendered(), profile=profile)
    deliver_message(message.pk)

    async def scenario() -> None:
        comm = socket(profile.project.sdk_key, "u-42")
        await connect(comm)
        await receive(comm)
        for action in ("viewed", "viewed", "clicked", "viewed", "clicked"):
            await comm.send_json_to({"type": action, "id": message.pk})
            ack = await receive(comm)
            assert ack == {"type": "ack", "id": message.pk, "action": action, "ok": True}
        await comm.send_json_to({"type": "clicked", "id": message.pk + 1000})  # not theirs
        assert (await receive(comm))["ok"] is False
        await comm.send_json_to({"type": "opened", "id": "x"})
        assert (await receive(comm))["type"] == "error"
        await comm.disconnect()

    run(scenario)
    message.refresh_from_db()
    assert message.status == Message.Status.CLICKED  # a late "viewed" does not move it back
    assert {"delivered_at", "viewed_at", "clicked_at"} <= set(message.delivery)
    events = Event.objects.filter(profile=profile).order_by("id")
    assert [e.name for e in events] == ["Notification Viewed", "Notification Clicked"]
    clicked = events[1]
    assert clicked.client_id == f"in-app-{message.pk}-clicked"
    assert clicked.properties == {
        "message_id": message.pk,
        "journey_id": message.journey_id,
        "node": "send",
        "channel": "in_app",
        "title": "Hi Ana",
        "button_url": "https://shop.example.com/cart",
    }


def test_another_projects_key_sees_nothing(make_message: MakeMessage, profile: Profile) -> None:
    from tests.factories import ProjectFactory

    other = ProjectFactory(name="Other")
    message = make_message("in_app", rendered(), profile=profile)
    deliver_message(message.pk)

    async def scenario() -> None:
        comm = socket(other.sdk_key, "u-42")
        await connect(comm)
        assert await comm.receive_nothing(timeout=1.2)
        await comm.send_json_to({"type": "clicked", "id": message.pk})
        assert (await receive(comm))["ok"] is False
        await comm.disconnect()

    run(scenario)
    assert Message.objects.get(pk=message.pk).status == Message.Status.SENT
