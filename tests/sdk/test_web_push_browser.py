"""Web push from a real page: ``journeys.webPush.subscribe()`` in Chromium registers the
service worker from the customer's origin, subscribes with the project's VAPID key and
stores the subscription on the profile; a live journey's Web Push block then reaches a
local push service that checks the VAPID signature and decrypts the payload with that
subscription's keys.

Headless Chromium has no push service to subscribe with, so the page's
``PushManager.subscribe`` returns a subscription whose keys the test holds (as a browser
holds them); everything else (permission, service worker, SDK, API, engine, pywebpush)
is the real thing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from builder import services as builder_services
from engine import delivery, inbox, loaders, services
from engine.channels.web_push import project_vapid_keys
from engine.ingest import parse_events
from engine.models import Message, Profile
from tests.engine.delivery.conftest import LocalServer, Reply
from tests.engine.delivery.test_web_push import Browser, unb64url, vapid_claims
from tests.sdk.test_sdk_browser import wait_for

SW_FILE = Path(__file__).resolve().parents[2] / "static" / "sdk" / "journeys-sw.js"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DROP = {
    "entry": {"id": "entry", "type": "action", "event": "Back In Stock"},
    "nodes": [
        {
            "id": "notify",
            "type": "web_push",
            "title": "Back in stock",
            "body": "{{ event.item }} is back",
            "url": "/p/42",
        }
    ],
    "edges": [{"from": "entry", "to": "notify"}],
}

# The browser's side of PushManager, with keys the test holds.
FAKE_PUSH_MANAGER = """
window.__pushKey = null;
let __sub = null;
PushManager.prototype.getSubscription = async function () { return __sub; };
PushManager.prototype.subscribe = async function (options) {
  window.__pushKey = Array.from(new Uint8Array(options.applicationServerKey));
  const json = %s;
  __sub = {endpoint: json.endpoint, options: options, toJSON: () => json,
           unsubscribe: async () => { __sub = null; return true; }};
  return __sub;
};
"""


@pytest.fixture
def push_service() -> Iterator[LocalServer]:
    server = LocalServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture(autouse=True)
def _push_settings(settings: Any) -> Iterator[None]:
    settings.JOURNEYS_WEBHOOK_ALLOW_PRIVATE = True  # the push service is on 127.0.0.1
    settings.JOURNEYS_WEB_PUSH_BACKEND = ""
    loaders.version.cache_clear()
    cache.clear()
    yield
    loaders.version.cache_clear()
    cache.clear()


def test_subscribe_stores_the_browsers_subscription_and_a_journeys_push_reaches_it(
    make_page: Callable[..., Any],
    project: Any,
    host_dir: Path,
    host_server: str,
    push_service: LocalServer,
    marketer: Any,
) -> None:
    shutil.copy(SW_FILE, host_dir / "journeys-sw.js")  # on the customer's origin
    # Made now rather than by the SDK's first request: SQLite's shared in-memory test
    # database fails a write at once when the live server's thread is writing too.
    public, _ = project_vapid_keys(project.pk)
    keys = Browser.new(f"{push_service.url}/push/chromium-1")
    page = make_page(
        project.sdk_key,
        before=FAKE_PUSH_MANAGER % json.dumps(keys.subscription())
        + "journeys.identify('u-9', {first_name: 'Ana'});",
    )
    page.context.grant_permissions(["notifications"], origin=host_server)

    result = page.evaluate("() => journeys.webPush.subscribe()")

    assert result == {"ok": True, "endpoint": keys.endpoint}, page.console
    sent_key = bytes(page.evaluate("() => window.__pushKey"))
    assert sent_key == unb64url(public)  # subscribed with the project's VAPID key
    script = page.evaluate(
        "() => navigator.serviceWorker.getRegistration().then(r => r && r.active && r.active.scriptURL)"
    )
    assert script == f"{host_server}/journeys-sw.js"
    profile = wait_for(lambda: Profile.objects.filter(project=project, external_id="u-9").first())
    assert profile is not None
    assert profile.push_tokens == [
        {
            "platform": "web",
            "token": keys.endpoint,
            "keys": keys.subscription()["keys"],
            "subscribed_at": profile.push_tokens[0]["subscribed_at"],
        }
    ]

    # A live journey's Web Push block, through the engine, to the push service.
    journey = builder_services.journey_create(
        project=project, user=marketer, name="Drop", definition=DROP
    )
    builder_services.journey_publish(journey=journey, user=marketer)
    records = parse_events(
        {"events": [{"profile_id": "u-9", "name": "Back In Stock", "properties": {"item": "Red Nike Shoes"}}]},
        now=timezone.now(),
        max_items=10,
    )  # fmt: skip
    services.events_ingest(project=project, records=records)
    push_service.reply(Reply(201, b""))
    inbox.process_inbox(project.pk)
    delivery.deliver_due()

    message = Message.objects.get(journey=journey, node="notify")
    assert message.status == Message.Status.SENT, message.error
    [request] = push_service.requests
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert vapid_claims(headers["authorization"], public)["aud"] == push_service.url
    assert keys.decrypt(request.body) == {
        "title": "Back in stock",
        "body": "Red Nike Shoes is back",
        "url": "/p/42",
        "tag": f"journeys-msg-{message.pk}",
    }
    assert page.errors == []


def test_subscribe_says_why_when_permission_is_denied(
    make_page: Callable[..., Any], project: Any, host_dir: Path
) -> None:
    shutil.copy(SW_FILE, host_dir / "journeys-sw.js")
    page = make_page(project.sdk_key, before="journeys.identify('u-9');")
    result = page.evaluate("() => journeys.webPush.subscribe()")  # nobody granted it
    assert result["ok"] is False
    assert result["reason"] in ("denied", "default")
    assert page.errors == []
