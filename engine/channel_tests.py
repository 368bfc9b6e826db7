"""Test sends that go to a profile: a web push to its browsers, an in-app pop-up to its pages.

An admin names a profile (its id, an alias, or its email) on the settings page or through
``POST /projects/<id>/channels/<channel>/test``. A web push goes through pywebpush with
the project's VAPID keys to every browser subscription the profile has; an in-app test
is kept in the cache (not the outbox: it belongs to no journey) under the profile's key
until it expires, and the SDK's websocket hands it to the profile's next page
(engine/in_app.py): at once when a page is open, else on the next page view.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from engine.channel_settings import ChannelSettingsInvalid, TestSend, project_channels
from engine.models import Profile, ProfileAlias, Project

IN_APP_TTL = timedelta(hours=1)  # a test pop-up waits this long for a page view
LIVE_WAIT_SECONDS = 2.0  # an open page's socket polls every 0.5 s (engine/consumers.py)
# The profiles with a test pop-up waiting ({profile pk: expiry timestamp}): a socket poll
# reads this one key, and the key of a waiting profile only when one of its pages is open.
PENDING_KEY = "in-app-test:pending"
PENDING_LOCK = "in-app-test:pending-lock"


def _key(profile_pk: int) -> str:
    return f"in-app-test:{profile_pk}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def web_subscriptions(profile: Profile) -> list[dict[str, Any]]:
    from engine.channels import web_push

    tokens = [
        t for t in (profile.push_tokens or []) if isinstance(t, dict) and t.get("platform") == "web"
    ]
    return web_push.subscriptions({"tokens": tokens})


def profile_find(project: Project, to: str, *, channel: str) -> Profile:
    """The profile ``to`` names: its id, one of its aliases, else its email (the most
    recently updated of several, one with a browser subscription first for web push)."""
    found = Profile.objects.filter(project=project, external_id=to).first()
    if found is None:
        alias = ProfileAlias.objects.filter(project=project, alias=to).first()
        found = alias.profile if alias is not None else None
    if found is None and "@" in to:
        candidates = list(
            Profile.objects.filter(project=project, email__iexact=to).order_by("-updated_at")[:20]
        )
        if channel == "web_push":
            candidates.sort(key=lambda p: not web_subscriptions(p))  # stable: newest first
        found = candidates[0] if candidates else None
    if found is None:
        raise ChannelSettingsInvalid(
            {"to": f"names no profile of this project (no profile id, alias or email {to!r})"}
        )
    return found


def send_test(*, project: Project, channel: str, to: str) -> TestSend:
    profile = profile_find(project, to, channel=channel)
    if channel == "web_push":
        return web_push_test(project, profile)
    return in_app_test(project, profile)


# --- web push --------------------------------------------------------------------------------


def web_push_test(project: Project, profile: Profile) -> TestSend:
    from engine.channels import get_sender, web_push

    configs = project_channels(project.pk)
    backend, send = get_sender("web_push", configs)
    who = profile.external_id
    subs = web_subscriptions(profile)
    facts: dict[str, Any] = {"profile": who, "subscriptions": len(subs)}
    if not subs:
        return TestSend(
            "skipped",
            backend,
            "no web push subscription",
            facts,
            text=f"Not sent: {who} has no web push subscription. Open your site with the SDK "
            "in a browser, identify as this profile and allow notifications, then try again.",
        )
    key = f"journeys-test-{uuid.uuid4().hex}"
    rendered = {
        "title": f"Test notification from Journeys ({project.name})",
        "body": "If you can see this, web push works for this browser.",
        "url": "",
    }
    if backend != "webpush":  # record-only: nothing leaves
        tokens = [{"token": s["endpoint"], "keys": s["keys"], "platform": "web"} for s in subs]
        result = send({**rendered, "tokens": tokens}, message_id=0, idempotency_key=key)
        return TestSend(result.outcome.value, backend, result.error, facts)
    data = json.dumps({**rendered, "tag": key})
    result = web_push.push_to(
        subs,
        data,
        project_id=project.pk,
        profile_id=profile.pk,
        topic=key[-32:],
        config=configs.get("web_push"),
    )
    entries = result.delivery.get("subscriptions", [])
    sent = sum(1 for e in entries if "error" not in e)
    gone = [e for e in entries if e.get("status_code") in web_push.GONE]
    facts.update(sent_to=sent, removed=len(gone), results=entries)
    removed = ""
    if gone:
        codes = ", ".join(sorted({str(e["status_code"]) for e in gone}))
        removed = (
            f"{_plural(len(gone), 'subscription')} had expired and "
            f"{'was' if len(gone) == 1 else 'were'} removed ({codes})."
        )
    if sent:
        text = f"Sent to {_plural(sent, 'browser')} of {who}."
        others = len(entries) - sent - len(gone)
        if others:
            text += f" {_plural(others, 'other')} failed: {result.error or 'see the details'}."
        text = f"{text} {removed}".strip()
    elif gone and len(gone) == len(entries):
        text = (
            f"Not sent: {removed} {who} must allow notifications again in a browser on your site."
        )
    elif result.outcome.value == "retry":
        text = f"Not sent, the push service could not be reached or asked to try later: {result.error}. {removed}".strip()
    else:
        text = f"Not sent, the push service refused it: {result.error}. {removed}".strip()
    return TestSend(result.outcome.value, backend, result.error, facts, text=text)


# --- in-app ----------------------------------------------------------------------------------


def in_app_test(project: Project, profile: Profile) -> TestSend:
    from engine import consent
    from engine.channels import get_sender

    backend, send = get_sender("in_app", project_channels(project.pk))
    who = profile.external_id
    # A profile that unsubscribed from in-app messages is shown no pop-up, a test neither.
    status = next(s for s in consent.subscriptions_of(profile) if s.channel == "in_app")
    if not status.subscribed:
        since = f" on {status.changed_at.date().isoformat()}" if status.changed_at else ""
        return TestSend(
            "skipped",
            backend,
            "unsubscribed from in-app messages",
            {"profile": who},
            text=f"Not sent: {who} unsubscribed from in-app messages{since}. Choose another "
            "profile, or, if this one is yours, subscribe it again (the profile's "
            "subscriptions in the profiles API) and try again.",
        )
    now = timezone.now()
    expires = now + IN_APP_TTL
    payload: dict[str, Any] = {
        "type": "in_app",
        # Negative: never an outbox row's id, so what the page reports back touches none.
        "id": -(secrets.randbelow(2**31 - 1) + 1),
        "title": f"Test message from Journeys ({project.name})",
        "body": "If you can read this, in-app messages reach this page.",
        "button_text": "Got it",
        "button_url": "",
        "expires_at": expires.isoformat(),
    }
    facts: dict[str, Any] = {"profile": who, "expires_at": expires.isoformat()}
    if backend != "store":  # record-only: no page is shown anything
        result = send(payload, message_id=0, idempotency_key=f"journeys-test-{payload['id']}")
        return TestSend(result.outcome.value, backend, result.error, facts)
    ttl = int(IN_APP_TTL.total_seconds())
    cache.set(_key(profile.pk), payload, timeout=ttl)
    _pending_add(profile.pk, expires.timestamp(), ttl)
    deadline = time.monotonic() + LIVE_WAIT_SECONDS
    shown = False
    while time.monotonic() < deadline:
        time.sleep(0.1)
        waiting = cache.get(_key(profile.pk))
        if not waiting or waiting.get("id") != payload["id"]:
            shown = True
            break
    facts["shown"] = shown
    if shown:
        text = f"Shown now on an open page of {who}."
    else:
        until = expires.strftime("%H:%M")
        text = (
            f"Queued: no page of {who} is open right now. It shows on this profile's next "
            f"page view with the SDK, until {until} UTC."
        )
    return TestSend("sent", backend, "", facts, text=text)


def _pending_add(profile_pk: int, expires: float, ttl: int) -> None:
    """Add the profile to the waiting set (under a cross-process lock: two admins' tests at
    once both stay in it); entries past their expiry leave it."""
    from engine import claims

    deadline = time.monotonic() + 2
    while not claims.claim(PENDING_LOCK, timeout=5) and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        now = time.time()
        waiting = cache.get(PENDING_KEY) or {}
        waiting = {int(pk): at for pk, at in waiting.items() if at > now}
        waiting[profile_pk] = expires
        cache.set(PENDING_KEY, waiting, timeout=ttl)  # the newest test waits longest
    finally:
        claims.release(PENDING_LOCK)


def in_app_take(profile_pks: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The waiting test pop-ups of these profiles, each taken once (whichever socket, in
    whichever process, deletes its key first hands it over)."""
    waiting = cache.get(PENDING_KEY)
    if not waiting:
        return {}
    keys = {_key(pk): pk for pk in profile_pks if pk in waiting}
    if not keys:
        return {}
    out: dict[int, dict[str, Any]] = {}
    for key, payload in cache.get_many(list(keys)).items():
        if cache.delete(key):
            out[keys[key]] = payload
    return out
