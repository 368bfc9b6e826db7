"""The live overlay socket ``/ws/journeys/<id>/`` through the real ASGI stack (session and
token auth, routing), driven by ``WebsocketCommunicator``: the first message is the HTTP
occupancy, a change arrives within 2 s, nothing comes when nothing changed, strangers are
refused with a close code, and any number of sockets costs one query per tick."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import token_issue
from builder import services as builder_services
from builder.models import Journey
from engine.models import Enrollment, Profile, Project
from journeys_site.asgi import application
from stats import broadcast, selectors
from tests.factories import UserFactory
from tests.stats.journeys import neither

pytestmark = pytest.mark.django_db(transaction=True)

EMPTY = {"entry": 0, "opened": 0, "mail": 0}  # the blocks of neither()


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    """Run an async scenario from this sync test; its ORM calls come back to this thread."""
    async_to_sync(scenario)()


def roundtrip(payload: Any) -> Any:
    return json.loads(json.dumps(payload))


def token_for(user: Any) -> str:
    return token_issue(user=user)[1]


def publish(project: Project, user: Any, name: str = "Live") -> Journey:
    journey = builder_services.journey_create(
        project=project, user=user, name=name, definition=neither()
    )
    return builder_services.journey_publish(journey=journey, user=user)


def enter(journey: Journey, profile_id: str, node: str = "opened") -> Enrollment:
    """A user in the journey at ``node``, as the engine leaves it (written by the ORM)."""
    now = timezone.now()
    assert journey.live_version is not None
    profile = Profile.objects.create(project=journey.project, external_id=profile_id)
    return Enrollment.objects.create(
        project_id=journey.project_id,
        journey=journey,
        version=journey.live_version,
        profile=profile,
        node=node,
        state=Enrollment.State.ACTIVE,
        entered_at=now,
        node_entered_at=now,
    )


def socket(journey_id: int, token: str | None = None, **headers: str) -> WebsocketCommunicator:
    path = f"/ws/journeys/{journey_id}/" + (f"?token={token}" if token is not None else "")
    raw = [(k.encode(), v.encode()) for k, v in {"host": "testserver", **headers}.items()]
    return WebsocketCommunicator(application, path, headers=raw)


async def first(comm: WebsocketCommunicator) -> dict[str, Any]:
    connected, _ = await comm.connect()
    assert connected
    message: dict[str, Any] = await comm.receive_json_from(timeout=2)
    return message


async def closed_with(comm: WebsocketCommunicator) -> int:
    connected, _ = await comm.connect()
    assert connected  # accepted first, so that a browser sees the code
    output = await comm.receive_output(timeout=2)
    assert output["type"] == "websocket.close"
    await comm.disconnect()
    return int(output["code"])


@pytest.fixture
def journey(project: Project, marketer: Any) -> Journey:
    journey = publish(project, marketer)
    enter(journey, "u1", "opened")
    enter(journey, "u2", "opened")
    enter(journey, "u3", "mail")
    return journey


@pytest.fixture
def token(marketer: Any) -> str:
    return token_for(marketer)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[int], int]]:
    """Every poll of the broadcaster: the journeys it read and how many queries it took."""
    calls: list[tuple[list[int], int]] = []
    real = broadcast.read

    def spy(ids: Any, known: Any) -> Any:
        with CaptureQueriesContext(connection) as queries:
            result = real(ids, known)
        calls.append((sorted(ids), len(queries)))
        return result

    monkeypatch.setattr(broadcast, "read", spy)
    return calls


# -- what is sent ---------------------------------------------------------------------------


def test_the_first_message_is_the_http_occupancy(
    journey: Journey, token: str, api: APIClient
) -> None:
    http = api.get(f"/api/v1/journeys/{journey.pk}/occupancy").json()
    assert http == {"nodes": {**EMPTY, "opened": 2, "mail": 1}, "total": 3}

    async def scenario() -> None:
        comm = socket(journey.pk, token)
        assert await first(comm) == roundtrip({"type": "occupancy", **http})
        await comm.disconnect()

    run(scenario)


def test_a_viewer_with_a_session_cookie_is_served(journey: Journey, viewer: Any) -> None:
    client = Client()
    client.force_login(viewer)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    async def scenario() -> None:
        comm = socket(journey.pk, cookie=cookie, origin="http://testserver")
        assert (await first(comm))["total"] == 3
        await comm.disconnect()

    run(scenario)


def test_changes_arrive_within_two_seconds(journey: Journey, token: str) -> None:
    async def scenario() -> None:
        comm = socket(journey.pk, token)
        assert (await first(comm))["total"] == 3

        started = time.monotonic()
        await sync_to_async(enter)(journey, "u4", "entry")
        message = await comm.receive_json_from(timeout=2)
        assert time.monotonic() - started < 2
        nodes = {"entry": 1, "opened": 2, "mail": 1}
        assert message == {"type": "occupancy", "nodes": nodes, "total": 4}

        moved = Enrollment.objects.filter(journey=journey, profile__external_id="u1")
        await sync_to_async(moved.update)(node="mail")
        message = await comm.receive_json_from(timeout=2)
        assert message["nodes"] == {"entry": 1, "opened": 1, "mail": 2}

        await sync_to_async(Enrollment.objects.filter(journey=journey).update)(
            state=Enrollment.State.EXITED
        )
        message = await comm.receive_json_from(timeout=2)
        assert message == {"type": "occupancy", "nodes": EMPTY, "total": 0}
        await comm.disconnect()

    run(scenario)


def test_nothing_is_sent_while_nothing_changes(
    journey: Journey, token: str, marketer: Any, reads: list[Any]
) -> None:
    async def scenario() -> None:
        comm = socket(journey.pk, token)
        await first(comm)
        # Another journey's users, and rows that are not in the journey now, change nothing.
        other = await sync_to_async(publish)(journey.project, marketer, "Other")
        await sync_to_async(enter)(other, "v1")
        await sync_to_async(Enrollment.objects.filter(journey=journey, node="mail").update)(
            node_state=Enrollment.NodeState.WAITING
        )
        assert await comm.receive_nothing(timeout=3 * broadcast.INTERVAL + 0.3)
        await comm.disconnect()

    run(scenario)
    assert len(reads) >= 2  # it did look


# -- who may watch --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("anonymous", 4401),
        ("bad token", 4401),
        ("empty token", 4401),
        ("inactive user's token", 4401),
        ("session from another site", 4401),
        ("another project's marketer", 4404),
        ("unknown journey", 4404),
    ],
)
def test_strangers_are_refused(
    journey: Journey, token: str, other_project: Any, other_marketer: Any, who: str, code: int
) -> None:
    inactive = UserFactory(username="gone", is_active=False)
    comm = {
        "anonymous": lambda: socket(journey.pk),
        "bad token": lambda: socket(journey.pk, "not-a-token"),
        "empty token": lambda: socket(journey.pk, ""),
        "inactive user's token": lambda: socket(journey.pk, token_for(inactive)),
        "session from another site": lambda: socket(
            journey.pk,
            cookie=f"sessionid={login(journey)}",
            origin="https://evil.example",
        ),
        "another project's marketer": lambda: socket(journey.pk, token_for(other_marketer)),
        "unknown journey": lambda: socket(journey.pk + 1000, token),
    }[who]()

    async def scenario() -> None:
        assert await closed_with(comm) == code
        assert not broadcast.broadcaster().running

    run(scenario)


def login(journey: Journey) -> str:
    """A session cookie of a member of the journey's project."""
    assert journey.created_by is not None
    client = Client()
    client.force_login(journey.created_by)
    return str(client.cookies["sessionid"].value)


def test_a_deleted_journey_closes_its_sockets(project: Project, marketer: Any, token: str) -> None:
    draft = builder_services.journey_create(
        project=project, user=marketer, name="Draft", definition=neither()
    )

    async def scenario() -> None:
        comm = socket(draft.pk, token)
        assert await first(comm) == {"type": "occupancy", "nodes": EMPTY, "total": 0}
        await sync_to_async(builder_services.journey_delete)(journey=draft, user=marketer)
        assert await comm.receive_output(timeout=2) == {"type": "websocket.close", "code": 4404}
        assert not broadcast.broadcaster().running
        await comm.disconnect()

    run(scenario)


# -- what it costs --------------------------------------------------------------------------


def test_sockets_share_one_query_per_tick(
    journey: Journey, token: str, viewer: Any, marketer: Any, reads: list[Any]
) -> None:
    other = publish(journey.project, marketer, "Other")
    socks = [socket(journey.pk, token), socket(journey.pk, token_for(viewer))]
    socks.append(socket(other.pk, token))

    async def scenario() -> None:
        for comm in socks:
            await first(comm)
        reads.clear()

        await sync_to_async(enter)(journey, "u4")
        for comm in socks[:2]:
            assert (await comm.receive_json_from(timeout=2))["total"] == 4
        assert await socks[2].receive_nothing(timeout=broadcast.INTERVAL + 0.2)

        # One loop for the process: one read per tick for all three sockets, one query each.
        assert reads
        assert all(call == (sorted([journey.pk, other.pk]), 1) for call in reads), reads
        started, ticks = time.monotonic(), len(reads)
        assert await socks[0].receive_nothing(timeout=2)
        elapsed = time.monotonic() - started
        assert len(reads) - ticks <= elapsed / broadcast.INTERVAL + 1

        for comm in socks:
            await comm.disconnect()
        assert not broadcast.broadcaster().running  # stopped with the last socket

    run(scenario)


def test_the_broadcaster_counts_as_the_selector(project: Project, marketer: Any) -> None:
    """Every live block listed, blocks of older versions that still hold users, a journey
    never published (its draft's blocks), and a stale cached block list read again."""
    busy = publish(project, marketer, "Busy")
    enter(busy, "u1", "opened")
    enter(busy, "u2", "retired-block")  # a block only an older version had
    empty = publish(project, marketer, "Empty")
    draft = builder_services.journey_create(
        project=project, user=marketer, name="Draft", definition=neither()
    )
    journeys = [busy, empty, draft]
    stale: broadcast.Shapes = {busy.pk: ((None, -1), selectors.journey_shape(empty))}

    with CaptureQueriesContext(connection) as queries:
        messages, fresh = broadcast.read([j.pk for j in journeys], stale)
    assert len(queries) <= 1 + 2 * len(journeys)  # block lists read once, then cached
    assert set(fresh) == {j.pk for j in journeys}
    for j in journeys:
        expected = {"type": "occupancy", **selectors.journey_occupancy(journey=j)}
        assert roundtrip(messages[j.pk]) == roundtrip(expected)
    assert messages[busy.pk]["nodes"] == {**EMPTY, "opened": 1, "retired-block": 1}

    with CaptureQueriesContext(connection) as queries:
        again, _ = broadcast.read([j.pk for j in journeys], fresh)
    assert len(queries) == 1
    assert again == messages
