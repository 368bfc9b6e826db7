"""Identify folds an anonymous visitor into a profile: the visitor's subscription statuses
move with it (issue 10). Per channel the more recently changed status wins, so an
unsubscribe made while anonymous is never lost; the move is part of the merge's
transaction, and a repeated identify changes nothing. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from engine import consent
from engine.models import Profile, ProfileAlias, Project, Subscription
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def at(days: int) -> datetime:
    return MONDAY + timedelta(days=days)


def status(profile: Profile, channel: str, subscribed: bool, when: datetime, source: str) -> None:
    consent.subscription_set(
        profile_id=profile.pk, channel=channel, subscribed=subscribed, source=source, at=when
    )


def identify(client: APIClient) -> dict[str, Any]:
    response = client.post(
        "/api/v1/identify", {"profile_id": "u-42", "anonymous_id": "anon-1"}, format="json"
    )
    assert response.status_code == 200, response.content
    return dict(response.json())


def rows(profile_id: int) -> dict[str, tuple[bool, datetime, str]]:
    return {
        s.channel: (s.subscribed, s.changed_at, s.source)
        for s in Subscription.objects.filter(profile_id=profile_id)
    }


@pytest.fixture
def pair(project: Project) -> tuple[Profile, Profile]:
    anon = ProfileFactory(project=project, external_id="anon-1", anonymous=True)
    known = ProfileFactory(project=project, external_id="u-42")
    return anon, known


def test_each_channel_keeps_the_most_recent_change_of_either_profile(
    ingest: APIClient, pair: tuple[Profile, Profile]
) -> None:
    anon, known = pair
    # email: unsubscribed while anonymous, after the identified profile's older status.
    status(known, "email", True, at(0), "staff")
    status(anon, "email", False, at(2), "api")
    # sms: the identified profile changed it more recently: its status stays.
    status(anon, "sms", False, at(1), "api")
    status(known, "sms", True, at(3), "staff")
    # push: only the visitor had a status: it moves.
    status(anon, "push", False, at(1), "api")
    # in_app: only the identified profile had one: untouched.
    status(known, "in_app", False, at(0), "api")
    # web_push: changed at the same instant by both: the unsubscribe wins.
    status(known, "web_push", True, at(4), "staff")
    status(anon, "web_push", False, at(4), "api")

    assert identify(ingest) == {"profile_id": "u-42", "created": False, "merged": True}

    assert not Profile.objects.filter(pk=anon.pk).exists()
    assert rows(anon.pk) == {}
    assert rows(known.pk) == {
        "email": (False, at(2), "api"),
        "sms": (True, at(3), "staff"),
        "push": (False, at(1), "api"),
        "in_app": (False, at(0), "api"),
        "web_push": (False, at(4), "api"),
    }
    assert Subscription.objects.count() == 5
    # The engine's check sees the unsubscribe on the surviving profile.
    subscriptions = ingest.get("/api/v1/profiles/u-42/subscriptions").json()["subscriptions"]
    assert subscriptions["email"]["status"] == "unsubscribed"
    assert subscriptions["push"]["status"] == "unsubscribed"
    assert subscriptions["sms"]["status"] == "subscribed"


def test_a_resubscribe_made_while_anonymous_wins_over_an_older_unsubscribe(
    ingest: APIClient, pair: tuple[Profile, Profile]
) -> None:
    anon, known = pair
    status(known, "email", False, at(0), "one_click")
    status(anon, "email", True, at(1), "unsubscribe_link")

    identify(ingest)

    assert rows(known.pk) == {"email": (True, at(1), "unsubscribe_link")}


def test_a_repeated_identify_changes_nothing(
    ingest: APIClient, pair: tuple[Profile, Profile]
) -> None:
    anon, known = pair
    status(anon, "email", False, at(2), "api")
    status(known, "email", True, at(1), "staff")
    status(known, "sms", False, at(1), "api")
    identify(ingest)
    after_first = rows(known.pk)

    assert identify(ingest) == {"profile_id": "u-42", "created": False, "merged": False}

    assert (
        rows(known.pk)
        == after_first
        == {
            "email": (False, at(2), "api"),
            "sms": (False, at(1), "api"),
        }
    )
    assert Subscription.objects.count() == 2


def test_a_merge_that_fails_later_leaves_both_profiles_statuses_as_they_were(
    ingest: APIClient, pair: tuple[Profile, Profile], monkeypatch: Any
) -> None:
    anon, known = pair
    status(anon, "email", False, at(2), "api")
    status(anon, "sms", False, at(2), "api")
    status(known, "email", True, at(1), "staff")
    before = (rows(anon.pk), rows(known.pk))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    # The last write of the merge, after the statuses moved.
    monkeypatch.setattr(ProfileAlias.objects, "get_or_create", broken)
    with pytest.raises(RuntimeError):
        identify(ingest)

    assert Profile.objects.filter(pk=anon.pk).exists()
    assert (rows(anon.pk), rows(known.pk)) == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="real concurrent writers need PostgreSQL"
)
def test_two_identify_calls_at_once_merge_once_without_a_unique_error(
    project: Project,
) -> None:
    from tests.engine.test_ingest_concurrency import run_together

    for round_number in range(5):
        anon = ProfileFactory(project=project, external_id="anon-1", anonymous=True)
        known, _ = Profile.objects.get_or_create(project=project, external_id="u-42")
        status(known, "email", True, at(round_number), "staff")
        status(anon, "email", False, at(round_number + 1), "api")
        status(anon, "sms", False, at(round_number), "api")
        ProfileAlias.objects.filter(alias="anon-1").delete()

        def call() -> dict[str, Any]:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {project.ingest_key}")
            return identify(client)

        results = run_together(call, call)

        assert not [r for r in results if isinstance(r, Exception)], results
        assert sorted(r["merged"] for r in results) == [False, True], results
        assert rows(known.pk) == {
            "email": (False, at(round_number + 1), "api"),
            "sms": (False, at(round_number), "api"),
        }
        assert Subscription.objects.count() == 2
        # The next round starts again from two profiles with their own statuses.
        Subscription.objects.filter(profile=known).delete()
