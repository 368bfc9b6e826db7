"""FCM authenticated from a service account JSON: the product mints the OAuth token at a
local token endpoint (checking the signed JWT assertion as Google does), reuses it, and
mints a new one when it is about to expire."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import time_machine
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.utils import timezone

from engine.channels import backend_name, push
from engine.delivery import deliver_message
from engine.models import Message
from tests.engine.delivery.conftest import LocalServer, MakeMessage, Reply

PUSH = {
    "title": "Back in stock",
    "body": "Your shoes are back",
    "url": "",
    "tokens": [{"token": "tok-android", "platform": "android"}],
}


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def token_server() -> Iterator[LocalServer]:
    server = LocalServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def account(
    settings: Any, http_server: LocalServer, token_server: LocalServer, tmp_path: Path
) -> tuple[dict[str, Any], rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "shop-app",
        "private_key_id": "key-1",
        "private_key": pem,
        "client_email": "push@shop-app.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": f"{token_server.url}/token",
    }
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(info))
    settings.FCM_SERVICE_ACCOUNT = str(path)  # a path, as operators usually give it
    settings.FCM_API_URL = http_server.url
    push._credentials.clear()
    return info, key


def token_reply(token: str, expires_in: int = 3600) -> Reply:
    return Reply(200, {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"})


def check_assertion(body: bytes, info: dict[str, Any], key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """What Google's token endpoint checks: the JWT bearer grant, signed by the account."""
    form = parse_qs(body.decode())
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    header, payload, signature = form["assertion"][0].split(".")
    key.public_key().verify(
        unb64url(signature),
        f"{header}.{payload}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )  # raises if it was not signed with the account's key
    assert json.loads(unb64url(header))["kid"] == "key-1"
    claims: dict[str, Any] = json.loads(unb64url(payload))
    assert claims["iss"] == info["client_email"]
    assert claims["aud"] == "https://oauth2.googleapis.com/token"  # Google's, wherever it is sent
    assert claims["scope"] == push.FCM_SCOPE
    return claims


def test_tokens_are_minted_from_the_service_account_and_reused(
    make_message: MakeMessage,
    http_server: LocalServer,
    token_server: LocalServer,
    account: tuple[dict[str, Any], rsa.RSAPrivateKey],
) -> None:
    info, key = account
    assert backend_name("push") == "fcm"  # the service account alone configures it
    token_server.reply(token_reply("ya29.first"))
    http_server.reply(Reply(200, {"name": "projects/shop-app/messages/1"}))
    http_server.reply(Reply(200, {"name": "projects/shop-app/messages/2"}))

    first = deliver_message(make_message("push", PUSH).pk)
    second = deliver_message(make_message("push", PUSH).pk)

    assert first is not None
    assert second is not None
    assert (first.status, second.status) == (Message.Status.SENT, Message.Status.SENT)
    [mint] = token_server.requests  # one token for both sends
    check_assertion(mint.body, info, key)
    assert [r.headers["Authorization"] for r in http_server.requests] == ["Bearer ya29.first"] * 2
    assert [r.path for r in http_server.requests] == ["/v1/projects/shop-app/messages:send"] * 2


def test_a_token_about_to_expire_is_refreshed(
    make_message: MakeMessage,
    http_server: LocalServer,
    token_server: LocalServer,
    account: tuple[dict[str, Any], rsa.RSAPrivateKey],
) -> None:
    token_server.reply(token_reply("ya29.first"), token_reply("ya29.second"))
    http_server.reply(Reply(200, {"name": "m1"}), Reply(200, {"name": "m2"}))
    deliver_message(make_message("push", PUSH).pk)
    with time_machine.travel(timezone.now() + timedelta(minutes=58)):  # 2 min left
        later = deliver_message(make_message("push", PUSH).pk)
    assert later is not None
    assert later.status == Message.Status.SENT
    assert len(token_server.requests) == 2
    assert http_server.requests[-1].headers["Authorization"] == "Bearer ya29.second"


def test_a_refused_account_fails_and_an_unreachable_token_endpoint_is_retried(
    make_message: MakeMessage,
    http_server: LocalServer,
    token_server: LocalServer,
    account: tuple[dict[str, Any], rsa.RSAPrivateKey],
) -> None:
    token_server.reply(Reply(400, {"error": "invalid_grant", "error_description": "revoked"}))
    refused = deliver_message(make_message("push", PUSH).pk)
    assert refused is not None
    assert refused.status == Message.Status.FAILED
    assert "invalid_grant" in refused.error
    assert http_server.requests == []

    token_server.reply(Reply(503, {"error": "backendError"}))
    busy = deliver_message(make_message("push", PUSH).pk)
    assert busy is not None
    assert busy.status == Message.Status.QUEUED  # tried again later
    assert http_server.requests == []


def test_inline_json_works_too_and_bad_json_fails_plainly(
    make_message: MakeMessage,
    settings: Any,
    http_server: LocalServer,
    token_server: LocalServer,
    account: tuple[dict[str, Any], rsa.RSAPrivateKey],
) -> None:
    info, _ = account
    settings.FCM_SERVICE_ACCOUNT = json.dumps(info)
    token_server.reply(token_reply("ya29.inline"))
    http_server.reply(Reply(200, {"name": "m1"}))
    sent = deliver_message(make_message("push", PUSH).pk)
    assert sent is not None
    assert sent.status == Message.Status.SENT
    assert http_server.requests[-1].headers["Authorization"] == "Bearer ya29.inline"

    settings.FCM_SERVICE_ACCOUNT = '{"type": "service_account", "project_id": "shop-app"'
    settings.FCM_PROJECT_ID = "shop-app"
    broken = deliver_message(make_message("push", PUSH).pk)
    assert broken is not None
    assert broken.status == Message.Status.FAILED
    assert "FCM_SERVICE_ACCOUNT is not readable JSON" in broken.error
