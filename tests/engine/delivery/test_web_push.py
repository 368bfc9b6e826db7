"""Web push against a local push service that does what a browser vendor's does: checks the
VAPID signature (RFC 8292) and decrypts the payload with the subscription's keys (RFC 8291,
aes128gcm). Per-project VAPID keys, subscriptions stored through the SDK's endpoint, and a
gone subscription (404/410) removed from the profile."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from io import StringIO
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from django.core.management import call_command
from rest_framework.test import APIClient

from engine.channels import backend_name
from engine.channels.web_push import project_vapid_keys
from engine.delivery import deliver_message
from engine.models import Message, Profile, Project
from engine.services import identity_hash
from tests.engine.delivery.conftest import LocalServer, MakeMessage, Reply
from tests.factories import ProfileFactory, ProjectFactory


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """One browser's push subscription: its keys stay here, as they stay in a browser."""

    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    endpoint: str

    @classmethod
    def new(cls, endpoint: str) -> Browser:
        return cls(ec.generate_private_key(ec.SECP256R1()), os.urandom(16), endpoint)

    def subscription(self) -> dict[str, Any]:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }

    def token(self) -> dict[str, Any]:
        return {"platform": "web", "token": self.endpoint, **self.subscription()}

    def decrypt(self, body: bytes) -> Any:
        plain = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


def vapid_claims(authorization: str, expected_key: str) -> dict[str, Any]:
    """Check ``vapid t=<jwt>,k=<key>`` as a push service does; the JWT's claims."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"] == expected_key
    header, payload, signature = fields["t"].split(".")
    raw = unb64url(signature)
    der = utils.encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(fields["k"]))
    public.verify(
        der, f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256())
    )  # raises if forged
    assert json.loads(unb64url(header))["alg"] == "ES256"
    claims: dict[str, Any] = json.loads(unb64url(payload))
    return claims


RENDERED = {"title": "Back in stock", "body": "Red Nike Shoes, size 42", "url": "/p/42"}


@pytest.fixture(autouse=True)
def _local_push_service(settings: Any) -> None:
    settings.JOURNEYS_WEBHOOK_ALLOW_PRIVATE = True  # the fake push service is on 127.0.0.1
    settings.DEFAULT_FROM_EMAIL = "ops@shop.example.com"


def push_message(make_message: MakeMessage, *browsers: Browser) -> Message:
    profile = ProfileFactory(
        project=Project.objects.get(name="Shop"), push_tokens=[b.token() for b in browsers]
    )
    tokens = [b.token() for b in browsers]
    return make_message("web_push", {**RENDERED, "tokens": tokens}, profile=profile)


def test_web_push_is_on_by_default_with_no_operator_setting() -> None:
    assert backend_name("web_push") == "webpush"


def test_a_push_is_signed_with_the_projects_vapid_key_and_decrypts_with_the_browsers_keys(
    make_message: MakeMessage, http_server: LocalServer
) -> None:
    browser = Browser.new(f"{http_server.url}/push/abc")
    message = push_message(make_message, browser)
    http_server.reply(Reply(201, b"", {"Location": f"{http_server.url}/m/1"}))

    after = deliver_message(message.pk)

    assert after is not None
    assert after.status == Message.Status.SENT, after.error
    [request] = http_server.requests
    assert request.method == "POST"
    assert request.path == "/push/abc"
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers["content-encoding"] == "aes128gcm"
    assert int(headers["ttl"]) > 0
    public, _ = project_vapid_keys(message.project_id)
    claims = vapid_claims(headers["authorization"], public)
    assert claims["aud"] == http_server.url
    assert claims["sub"] == "mailto:ops@shop.example.com"
    assert browser.decrypt(request.body) == {**RENDERED, "tag": f"journeys-msg-{message.pk}"}
    assert RENDERED["body"].encode() not in request.body  # encrypted on the wire
    assert after.delivery["provider"] == "webpush"
    assert after.delivery["sent_to"] == 1


def test_a_gone_subscription_is_removed_and_the_others_still_get_it(
    make_message: MakeMessage, http_server: LocalServer
) -> None:
    gone = Browser.new(f"{http_server.url}/push/gone")
    alive = Browser.new(f"{http_server.url}/push/alive")
    message = push_message(make_message, gone, alive)
    http_server.reply(Reply(410, b"expired"), Reply(201, b""))

    after = deliver_message(message.pk)

    assert after is not None
    assert after.status == Message.Status.SENT
    assert [r.path for r in http_server.requests] == ["/push/gone", "/push/alive"]
    tokens = Profile.objects.get(pk=message.profile_id).push_tokens
    assert [t["token"] for t in tokens] == [alive.endpoint]
    assert after.delivery["subscriptions"][0]["removed"] is True


@pytest.mark.parametrize("status", [404, 410])
def test_when_every_subscription_is_gone_the_message_fails_and_the_profile_forgets_them(
    make_message: MakeMessage, http_server: LocalServer, status: int
) -> None:
    message = push_message(make_message, Browser.new(f"{http_server.url}/push/x"))
    http_server.reply(Reply(status, b""))
    after = deliver_message(message.pk)
    assert after is not None
    assert after.status == Message.Status.FAILED
    assert "subscription gone" in after.error
    assert Profile.objects.get(pk=message.profile_id).push_tokens == []


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_busy_push_service_is_tried_again_later(
    make_message: MakeMessage, http_server: LocalServer, status: int
) -> None:
    message = push_message(make_message, Browser.new(f"{http_server.url}/push/x"))
    http_server.reply(Reply(status, b""))
    after = deliver_message(message.pk)
    assert after is not None
    assert after.status == Message.Status.QUEUED
    assert after.attempts == 1
    assert len(Profile.objects.get(pk=message.profile_id).push_tokens) == 1


def test_no_subscription_is_skipped(make_message: MakeMessage) -> None:
    after = deliver_message(make_message("web_push", {**RENDERED, "tokens": []}).pk)
    assert after is not None
    assert after.status == Message.Status.SKIPPED
    assert after.error == "no web push subscription"


def test_a_private_endpoint_is_refused_unless_allowed(
    make_message: MakeMessage, http_server: LocalServer, settings: Any
) -> None:
    settings.JOURNEYS_WEBHOOK_ALLOW_PRIVATE = False
    message = push_message(make_message, Browser.new(f"{http_server.url}/push/x"))
    after = deliver_message(message.pk)
    assert after is not None
    assert after.status == Message.Status.FAILED
    assert "https" in after.error
    assert http_server.requests == []


# --- VAPID keys ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_project_gets_its_own_vapid_keys_on_first_use_and_keeps_them() -> None:
    a, b = ProjectFactory(name="A"), ProjectFactory(name="B")
    assert Project.objects.get(pk=a.pk).vapid_public_key == ""
    first = project_vapid_keys(a.pk)
    assert project_vapid_keys(a.pk) == first
    assert project_vapid_keys(b.pk)[0] != first[0]
    assert len(unb64url(first[0])) == 65  # an uncompressed P-256 point, as browsers take it
    assert first[1].startswith("-----BEGIN PRIVATE KEY-----")


@pytest.mark.django_db
def test_the_vapid_keys_command_makes_prints_and_rotates() -> None:
    project = ProjectFactory(name="Shop")
    out = StringIO()
    call_command("vapid_keys", stdout=out)
    public = Project.objects.get(pk=project.pk).vapid_public_key
    assert out.getvalue().strip() == f"{project.pk}\tShop\t{public}"
    call_command("vapid_keys", "--project", str(project.pk), stdout=StringIO())
    assert Project.objects.get(pk=project.pk).vapid_public_key == public
    call_command("vapid_keys", "--project", str(project.pk), "--rotate", stdout=StringIO())
    assert Project.objects.get(pk=project.pk).vapid_public_key not in ("", public)


# --- the SDK's endpoints -------------------------------------------------------------------


@pytest.fixture
def shop(db: Any) -> Project:
    project: Project = ProjectFactory(name="Shop")
    ProfileFactory(project=project, external_id="u-42")
    return project


def sdk(project: Project) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {project.sdk_key}")
    return client


def subscribe(project: Project, body: dict[str, Any]) -> Any:
    return sdk(project).post("/api/v1/web-push/subscriptions", body, format="json")


def test_the_sdk_reads_the_public_key(shop: Project) -> None:
    response = sdk(shop).get("/api/v1/web-push/key", HTTP_ORIGIN="https://shop.example.com")
    assert response.status_code == 200
    assert response.json() == {"vapid_public_key": project_vapid_keys(shop.pk)[0]}
    assert response["Access-Control-Allow-Origin"] == "*"
    assert APIClient().get("/api/v1/web-push/key").status_code == 401


def test_a_subscription_is_stored_on_the_profile_once_and_removed_on_request(shop: Project) -> None:
    browser = Browser.new("https://fcm.googleapis.com/fcm/send/abc")
    body = {"profile_id": "u-42", "subscription": browser.subscription()}
    assert subscribe(shop, body).status_code == 201
    assert subscribe(shop, body).status_code == 201  # the same browser again: still one
    [token] = Profile.objects.get(project=shop, external_id="u-42").push_tokens
    assert token["platform"] == "web"
    assert token["token"] == browser.endpoint
    assert token["keys"] == browser.subscription()["keys"]

    removed = sdk(shop).delete(
        "/api/v1/web-push/subscriptions",
        {"profile_id": "u-42", "endpoint": browser.endpoint},
        format="json",
    )
    assert removed.json() == {"removed": True}
    assert Profile.objects.get(project=shop, external_id="u-42").push_tokens == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"subscription": None}, "subscription"),
        ({"subscription": {"endpoint": "http://push.example.com/x"}}, "subscription.endpoint"),
        ({"subscription": {"endpoint": "https://127.0.0.1/x"}}, "subscription.endpoint"),
        ({"subscription": {"endpoint": "https://fcm.googleapis.com/x", "keys": {"p256dh": "AAAA", "auth": "x"}}},
         "subscription.keys.p256dh"),
        ({"profile_id": ""}, "profile_id"),
    ],
)  # fmt: skip
def test_a_bad_subscription_is_a_400_naming_the_field(
    shop: Project, settings: Any, change: dict[str, Any], field: str
) -> None:
    settings.JOURNEYS_WEBHOOK_ALLOW_PRIVATE = False
    browser = Browser.new("https://fcm.googleapis.com/fcm/send/abc")
    response = subscribe(
        shop, {"profile_id": "u-42", "subscription": browser.subscription(), **change}
    )
    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_an_unknown_profile_is_a_404(shop: Project) -> None:
    browser = Browser.new("https://fcm.googleapis.com/fcm/send/abc")
    response = subscribe(shop, {"profile_id": "nobody", "subscription": browser.subscription()})
    assert response.status_code == 404


def test_with_identity_verification_on_the_sdk_key_needs_the_user_hash(shop: Project) -> None:
    Project.objects.filter(pk=shop.pk).update(identity_verification=True)
    shop.refresh_from_db()
    browser = Browser.new("https://fcm.googleapis.com/fcm/send/abc")
    body = {"profile_id": "u-42", "subscription": browser.subscription()}
    assert subscribe(shop, body).status_code == 403
    assert subscribe(shop, {**body, "user_hash": "ab" * 32}).status_code == 403
    assert Profile.objects.get(project=shop, external_id="u-42").push_tokens == []
    good = {**body, "user_hash": identity_hash(shop, "u-42")}
    assert subscribe(shop, good).status_code == 201
