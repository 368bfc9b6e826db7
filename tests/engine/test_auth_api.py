"""Marketer authentication: the token endpoint and createsuperuser --noinput."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_the_right_password_gets_a_token_that_opens_marketer_endpoints(marketer: Any) -> None:
    response = APIClient().post(
        "/api/v1/auth/token", {"username": "ana", "password": "pw-for-tests"}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    assert token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/projects").status_code == 200


def test_each_sign_in_gets_its_own_token_and_both_work(marketer: Any) -> None:
    body = {"username": "ana", "password": "pw-for-tests"}
    first = APIClient().post("/api/v1/auth/token", body, format="json").json()["token"]
    second = APIClient().post("/api/v1/auth/token", body, format="json").json()["token"]
    assert first != second
    for token in (first, second):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert client.get("/api/v1/projects").status_code == 200


def test_a_wrong_password_gets_no_token(marketer: Any) -> None:
    response = APIClient().post(
        "/api/v1/auth/token", {"username": "ana", "password": "wrong"}, format="json"
    )
    assert response.status_code == 400
    assert "token" not in response.json()


def test_an_unknown_user_gets_no_token() -> None:
    response = APIClient().post(
        "/api/v1/auth/token", {"username": "nobody", "password": "x"}, format="json"
    )
    assert response.status_code == 400


def test_a_made_up_token_is_refused() -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/v1/projects").status_code == 401


def test_createsuperuser_noinput_creates_a_marketer_who_can_get_a_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "root")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "s3cret-pass-word")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.com")
    call_command("createsuperuser", "--noinput", verbosity=0)

    user = get_user_model().objects.get(username="root")
    assert user.is_superuser
    assert user.is_staff
    assert user.email == "root@example.com"
    response = APIClient().post(
        "/api/v1/auth/token",
        {"username": "root", "password": "s3cret-pass-word"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["token"]


def test_a_browser_session_opens_marketer_endpoints(marketer: Any) -> None:
    client = APIClient()
    assert client.login(username="ana", password="pw-for-tests")
    assert client.get("/api/v1/projects").status_code == 200
