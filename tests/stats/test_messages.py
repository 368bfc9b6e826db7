"""The journey's message log: filters, newest first, cursor pagination."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from builder.models import Journey
from engine.models import Message, ProfileAlias
from tests.stats.conftest import Engine, with_email

pytestmark = pytest.mark.django_db

PUSH_THEN_MAIL: dict[str, Any] = {
    "settings": {},
    "entry": {"id": "entry", "type": "action", "event": "Signed Up"},
    "nodes": [
        {"id": "push1", "type": "push", "title": "Welcome", "body": "Hi {{ profile.first_name }}"},
        {
            "id": "mail",
            "type": "email",
            "subject": "Welcome {{ profile.first_name }}",
            "html": "<p>Hi</p>",
        },
    ],
    "edges": [{"from": "entry", "to": "push1"}, {"from": "push1", "to": "mail"}],
}


@pytest.fixture
def journey(engine: Engine) -> Journey:
    """u1, u2 have an email (mail recorded: no provider), u3..u5 none (skipped); nobody has a
    push token."""
    journey = engine.publish(PUSH_THEN_MAIL)
    for n in range(1, 6):
        if n <= 2:
            with_email(engine, f"u{n}", f"u{n}@example.com", first_name=f"User {n}")
        engine.track(f"u{n}", "Signed Up")
        engine.advance(minutes=1)
    return journey


def messages(api: APIClient, journey: Journey, **query: Any) -> Any:
    return api.get(f"/api/v1/journeys/{journey.pk}/messages", query)


def test_every_message_newest_first_with_its_delivery(api: APIClient, journey: Journey) -> None:
    body = messages(api, journey).json()
    assert body["next"] is None
    rows = body["results"]
    assert len(rows) == 10
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    assert rows[0]["profile_id"] == "u5"
    first_mail = next(r for r in rows if r["profile_id"] == "u1" and r["node"] == "mail")
    assert first_mail == {
        "id": first_mail["id"],
        "node": "mail",
        "profile_id": "u1",
        "channel": "email",
        "status": "recorded",  # no provider configured in tests: kept, not sent
        "attempts": 1,
        "rendered": {
            "to": "u1@example.com",
            "subject": "Welcome User 1",
            "html": "<p>Hi</p>",
            "text": "",
            "tracking": {"opens": True, "clicks": True},
            "unsubscribe_url": first_mail["rendered"]["unsubscribe_url"],
        },
        "error": "",
        "held": "",
        "created_at": "2026-11-28T10:00:00Z",
        "sent_at": None,
        "next_attempt_at": None,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"node": "mail"}, {("u1", "mail"), ("u2", "mail"), ("u3", "mail"), ("u4", "mail"), ("u5", "mail")}),
        ({"status": "recorded"}, {("u1", "mail"), ("u2", "mail")}),
        ({"status": "sent"}, set()),
        ({"profile_id": "u3"}, {("u3", "push1"), ("u3", "mail")}),
        ({"profile_id": "u3", "node": "push1", "status": "skipped"}, {("u3", "push1")}),
        ({"profile_id": "nobody"}, set()),
        ({"node": "nowhere"}, set()),
    ],
)  # fmt: skip
def test_filters(
    api: APIClient, journey: Journey, query: dict[str, str], expected: set[tuple[str, str]]
) -> None:
    rows = messages(api, journey, **query).json()["results"]
    assert {(r["profile_id"], r["node"]) for r in rows} == expected
    assert len(rows) == len(expected)


def test_the_profile_filter_follows_aliases(api: APIClient, journey: Journey) -> None:
    profile = journey.project.profiles.get(external_id="u2")
    ProfileAlias.objects.create(project=journey.project, alias="anon-2", profile=profile)
    rows = messages(api, journey, profile_id="anon-2").json()["results"]
    assert {r["profile_id"] for r in rows} == {"u2"}
    assert len(rows) == 2


def test_an_unknown_status_is_a_400(api: APIClient, journey: Journey) -> None:
    response = messages(api, journey, status="delivered-ish")
    assert response.status_code == 400
    assert list(response.json()) == ["status"]


def test_pages_follow_the_next_cursor_without_gaps_or_repeats(
    api: APIClient, journey: Journey
) -> None:
    seen: list[int] = []
    page = messages(api, journey, limit=3).json()
    pages = 1
    while True:
        assert len(page["results"]) <= 3
        seen += [r["id"] for r in page["results"]]
        if page["next"] is None:
            break
        assert "cursor=" in page["next"]
        page = api.get(page["next"]).json()
        pages += 1
    assert pages == 4
    assert len(seen) == 10
    assert seen == sorted(set(seen), reverse=True)


def test_a_filtered_page_keeps_its_filter_in_the_next_link(
    api: APIClient, journey: Journey
) -> None:
    page = messages(api, journey, node="mail", limit=2).json()
    assert "node=mail" in page["next"]
    rest = api.get(page["next"]).json()["results"]
    assert {r["node"] for r in rest} == {"mail"}


def test_pages_hold_100_by_default_and_at_most_1000(api: APIClient, journey: Journey) -> None:
    template = Message.objects.filter(journey=journey).first()
    assert template is not None
    Message.objects.bulk_create(
        Message(
            project_id=template.project_id,
            journey=journey,
            enrollment_id=template.enrollment_id,
            profile_id=template.profile_id,
            node="push1",
            visit=100 + i,
            channel="push",
            status=Message.Status.SENT,
            created_at=template.created_at,
        )
        for i in range(1000)
    )
    assert len(messages(api, journey).json()["results"]) == 100
    assert len(messages(api, journey, limit=250).json()["results"]) == 250
    big = messages(api, journey, limit=5000).json()
    assert len(big["results"]) == 1000
    assert len(api.get(big["next"]).json()["results"]) == 10
