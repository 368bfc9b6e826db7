"""Sign-in throttling (django-axes) on the token endpoint, the web login and the admin login."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client, RequestFactory, override_settings
from rest_framework.test import APIClient

from accounts.lockout import client_ip

pytestmark = pytest.mark.django_db

LIMIT = settings.AXES_FAILURE_LIMIT
RIGHT = "pw-for-tests"


def token(username: str, password: str, address: str = "10.0.0.1") -> Any:
    return APIClient(REMOTE_ADDR=address).post(
        "/api/v1/auth/token", {"username": username, "password": password}, format="json"
    )


def test_the_limit_is_small_enough_to_matter() -> None:
    assert 1 <= LIMIT <= 10


def test_after_too_many_wrong_passwords_the_right_one_gets_no_token(marketer: Any) -> None:
    answers = [token("ana", "wrong").status_code for _ in range(LIMIT)]
    assert answers == [400] * (LIMIT - 1) + [429]  # the attempt that reaches the limit locks

    response = token("ana", RIGHT)

    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.json()["detail"]
    assert "token" not in response.json()
    assert int(response["Retry-After"]) > 0


def test_fewer_wrong_passwords_than_the_limit_still_let_the_right_one_in(marketer: Any) -> None:
    for _ in range(LIMIT - 1):
        assert token("ana", "wrong").status_code == 400
    assert token("ana", RIGHT).status_code == 200


def test_a_user_is_locked_whatever_address_the_guesses_come_from(marketer: Any) -> None:
    for n in range(LIMIT):
        token("ana", "wrong", address=f"10.0.1.{n}")
    assert token("ana", RIGHT, address="10.0.2.1").status_code == 429


def test_an_address_that_guesses_many_users_is_locked_for_all_of_them(
    marketer: Any, other_marketer: Any
) -> None:
    for n in range(LIMIT):
        token(f"someone{n}", "wrong", address="10.0.3.1")
    assert token("bob", RIGHT, address="10.0.3.1").status_code == 429
    assert token("bob", RIGHT, address="10.0.3.2").status_code == 200


def test_an_unknown_username_is_answered_like_a_wrong_password(marketer: Any) -> None:
    unknown = token("nobody", "wrong", address="10.0.4.1")
    wrong = token("ana", "wrong", address="10.0.4.2")
    assert (unknown.status_code, unknown.json()) == (wrong.status_code, wrong.json())
    for _ in range(LIMIT):
        token("nobody", "wrong", address="10.0.4.3")
        token("ana", "wrong", address="10.0.4.4")
    unknown = token("nobody", "wrong", address="10.0.4.3")
    wrong = token("ana", "wrong", address="10.0.4.4")
    assert (
        (unknown.status_code, unknown.json())
        == (wrong.status_code, wrong.json())
        == (
            429,
            wrong.json(),
        )
    )


def test_the_web_login_refuses_the_right_password_after_too_many_wrong_ones(
    marketer: Any,
) -> None:
    client = Client(REMOTE_ADDR="10.0.5.1")
    for _ in range(LIMIT - 1):
        response = client.post("/login/", {"username": "ana", "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
    client.post("/login/", {"username": "ana", "password": "wrong"})

    response = client.post("/login/", {"username": "ana", "password": RIGHT})

    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_admin_login_refuses_the_right_password_after_too_many_wrong_ones(
    staff: Any,
) -> None:
    client = Client(REMOTE_ADDR="10.0.6.1")
    for _ in range(LIMIT):
        client.post("/admin/login/", {"username": "root", "password": "wrong"})

    response = client.post("/admin/login/", {"username": "root", "password": RIGHT})

    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert client.get("/admin/").status_code == 302  # still signed out


def test_a_successful_sign_in_clears_the_earlier_failures(marketer: Any) -> None:
    for _ in range(LIMIT - 1):
        token("ana", "wrong")
    assert token("ana", RIGHT).status_code == 200
    for _ in range(LIMIT - 1):
        token("ana", "wrong")
    assert token("ana", RIGHT).status_code == 200


def test_the_lockout_ends_after_the_cool_off(marketer: Any, time_machine: Any) -> None:
    time_machine.move_to("2026-01-01 10:00:00+00:00", tick=False)
    for _ in range(LIMIT):
        token("ana", "wrong")
    assert token("ana", RIGHT).status_code == 429
    time_machine.shift(settings.AXES_COOLOFF_TIME.total_seconds() + 1)
    assert token("ana", RIGHT).status_code == 200


def test_the_address_is_the_peers_unless_proxies_are_declared() -> None:
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.7"
    )
    assert client_ip(request) == "10.9.9.9"
    with override_settings(JOURNEYS_PROXY_COUNT=1):
        # The right-most entry was added by our proxy; what the client sent is ignored.
        assert client_ip(request) == "203.0.113.7"
    with override_settings(JOURNEYS_PROXY_COUNT=3):
        assert client_ip(request) == "10.9.9.9"


@pytest.mark.django_db(transaction=True)
def test_the_lockout_holds_when_served_asynchronously_as_under_daphne(marketer: Any) -> None:
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    async def attempts() -> list[int]:
        client = AsyncClient(REMOTE_ADDR="10.0.7.1")
        codes = []
        for password in ["wrong"] * LIMIT + [RIGHT]:
            response = await client.post(
                "/api/v1/auth/token",
                {"username": "ana", "password": password},
                content_type="application/json",
            )
            codes.append(response.status_code)
        return codes

    assert async_to_sync(attempts)() == [400] * (LIMIT - 1) + [429, 429]
