"""API tokens: issued with an expiry, stored hashed, listed and revoked by their owner."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from accounts.models import ApiToken
from stats.ws_auth import user_for_token

pytestmark = pytest.mark.django_db


def sign_in(username: str = "ana", name: str | None = None) -> dict[str, Any]:
    body = {"username": username, "password": "pw-for-tests"}
    if name is not None:
        body["name"] = name
    response = APIClient().post("/api/v1/auth/token", body, format="json")
    assert response.status_code == 200, response.content
    return dict(response.json())


def client(token: str) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return c


def test_a_token_comes_with_its_expiry(marketer: Any) -> None:
    before = timezone.now()
    body = sign_in()
    assert set(body) == {"token", "expires_at"}
    expires = parse_datetime(body["expires_at"])
    assert expires is not None
    ttl = timedelta(days=settings.JOURNEYS_TOKEN_TTL_DAYS)
    assert before + ttl <= expires <= timezone.now() + ttl


def test_only_a_hash_of_the_token_is_stored(marketer: Any) -> None:
    raw = sign_in()["token"]
    stored = ApiToken.objects.get(user=marketer)
    assert raw not in {stored.key_hash, stored.prefix, stored.name}
    assert len(stored.key_hash) == 64
    assert raw.startswith(stored.prefix)


def test_an_expired_token_is_refused(marketer: Any, time_machine: Any) -> None:
    raw = sign_in()["token"]
    assert client(raw).get("/api/v1/projects").status_code == 200
    time_machine.move_to(
        timezone.now() + timedelta(days=settings.JOURNEYS_TOKEN_TTL_DAYS, seconds=1), tick=False
    )
    response = client(raw).get("/api/v1/projects")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_the_owner_lists_their_tokens_without_their_secrets(marketer: Any) -> None:
    first = sign_in(name="ci")["token"]
    sign_in(name="laptop")
    listed = client(first).get("/api/v1/auth/tokens").json()
    assert [t["name"] for t in listed] == ["laptop", "ci"]
    assert [t["current"] for t in listed] == [False, True]
    assert set(listed[0]) == {
        "id",
        "name",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "current",
    }
    assert first not in str(listed)


def test_a_revoked_token_is_refused_at_once(marketer: Any) -> None:
    keep = sign_in()["token"]
    drop = sign_in()["token"]
    drop_id = next(t["id"] for t in client(drop).get("/api/v1/auth/tokens").json() if t["current"])

    assert client(keep).delete(f"/api/v1/auth/tokens/{drop_id}").status_code == 204

    assert client(drop).get("/api/v1/projects").status_code == 401
    assert client(keep).get("/api/v1/projects").status_code == 200
    assert len(client(keep).get("/api/v1/auth/tokens").json()) == 1


def test_a_token_can_revoke_itself(marketer: Any) -> None:
    raw = sign_in()["token"]
    own = client(raw).get("/api/v1/auth/tokens").json()[0]["id"]
    assert client(raw).delete(f"/api/v1/auth/tokens/{own}").status_code == 204
    assert client(raw).get("/api/v1/projects").status_code == 401


def test_nobody_revokes_or_sees_another_users_token(marketer: Any, other_marketer: Any) -> None:
    ana = sign_in("ana")["token"]
    bob = sign_in("bob")["token"]
    bobs = ApiToken.objects.get(user=other_marketer).pk

    assert client(ana).delete(f"/api/v1/auth/tokens/{bobs}").status_code == 404
    assert client(bob).get("/api/v1/projects").status_code == 200
    assert [t["id"] for t in client(ana).get("/api/v1/auth/tokens").json()] != [bobs]


def test_a_token_of_an_inactive_user_is_refused(marketer: Any) -> None:
    raw = sign_in()["token"]
    marketer.is_active = False
    marketer.save()
    assert client(raw).get("/api/v1/projects").status_code == 401


@pytest.mark.django_db(transaction=True)  # the websocket's lookup runs on its own connection
def test_the_websocket_takes_the_same_tokens_and_refuses_expired_or_revoked_ones(
    marketer: Any, time_machine: Any
) -> None:
    live = sign_in()["token"]
    revoked = sign_in()["token"]
    ApiToken.objects.filter(prefix=revoked[:8]).update(revoked_at=timezone.now())

    assert async_to_sync(user_for_token)(live) == marketer
    assert not async_to_sync(user_for_token)(revoked).is_authenticated

    time_machine.move_to(
        timezone.now() + timedelta(days=settings.JOURNEYS_TOKEN_TTL_DAYS, seconds=1), tick=False
    )
    assert not async_to_sync(user_for_token)(live).is_authenticated


def test_the_token_endpoint_gives_400_with_the_field_for_a_bad_body() -> None:
    response = APIClient().post("/api/v1/auth/token", {"username": "ana"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()
