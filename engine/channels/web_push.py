"""Web push (browser notifications): the Web Push protocol with per-project VAPID keys, else record.

Each project has its own VAPID key pair (RFC 8292), made on first use or by
``manage.py vapid_keys``; the web SDK subscribes the browser with the public key and
stores the subscription on the profile (``push_tokens``, platform ``web``). A message
is encrypted for each subscription (RFC 8291, aes128gcm) and POSTed to its push
service by pywebpush. 201 is sent; 404 and 410 mean the subscription is gone: it is
removed from the profile. 429, 5xx and network errors are retried.

Subscription endpoints come from browsers, so they must be https URLs of public
addresses (JOURNEYS_WEBHOOK_ALLOW_PRIVATE=1 lifts both, for local tests).
"""

from __future__ import annotations

import json
import logging
import socket
from typing import Any
from urllib.parse import urlparse

import requests
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import transaction
from py_vapid import Vapid
from py_vapid.utils import b64urlencode
from pywebpush import WebPushException, webpush

from engine.channel_settings import ChannelConfig
from engine.channels import Result, record
from engine.channels.ssrf import BlockedDestination, resolve_public

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
TTL_SECONDS = 24 * 3600  # a push service keeps an undelivered notification this long
GONE = {404, 410}
RETRYABLE = {408, 429}
MAX_SUBSCRIPTIONS = 10  # per profile: the newest browsers win


# --- VAPID keys ----------------------------------------------------------------------


def new_vapid_keys() -> tuple[str, str]:
    """(public key as the browser takes it: base64url of the uncompressed point, private PEM)."""
    vapid = Vapid()
    vapid.generate_keys()
    public = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64urlencode(public), vapid.private_pem().decode("ascii")


def project_vapid_keys(project_id: int, *, rotate: bool = False) -> tuple[str, str]:
    """The project's (public, private PEM) VAPID keys, made now if it has none (or rotate).

    Two first uses at once keep one pair: the update only fills empty keys.
    """
    from engine.models import Project

    if not rotate:
        found = Project.objects.filter(pk=project_id).values_list(
            "vapid_public_key", "vapid_private_key"
        )
        for public, private in found:
            if public and private:
                return public, private
    public, private = new_vapid_keys()
    query = Project.objects.filter(pk=project_id)
    if not rotate:
        query = query.filter(vapid_public_key="")
    query.update(vapid_public_key=public, vapid_private_key=private)
    stored = Project.objects.filter(pk=project_id).values_list(
        "vapid_public_key", "vapid_private_key"
    )
    for pair in stored:
        return pair[0], pair[1]
    raise LookupError(f"no project {project_id}")


def vapid_subject(config: ChannelConfig | None = None) -> str:
    """The contact the push services may write to (the VAPID ``sub`` claim): the project's
    own, else JOURNEYS_VAPID_SUBJECT, else mailto:DEFAULT_FROM_EMAIL."""
    if config is not None and config.get("subject"):
        return str(config.get("subject"))
    if settings.JOURNEYS_VAPID_SUBJECT:
        return str(settings.JOURNEYS_VAPID_SUBJECT)
    address = str(settings.DEFAULT_FROM_EMAIL).rsplit("<", 1)[-1].strip(" >")
    return f"mailto:{address}"


# --- subscriptions -------------------------------------------------------------------


def endpoint_problem(endpoint: str) -> str | None:
    """Why a browser's subscription endpoint may not be stored or called, else None."""
    url = urlparse(endpoint)
    allow_private = settings.JOURNEYS_WEBHOOK_ALLOW_PRIVATE
    if url.scheme != "https" and not (allow_private and url.scheme == "http"):
        return "must be an https:// URL of a push service"
    if not url.hostname:
        return "has no host"
    try:
        port = url.port or 443
    except ValueError:  # a port past 65535 or not a number
        return "has an invalid port"
    if allow_private:
        return None
    try:
        resolve_public(url.hostname, port)
    except BlockedDestination as exc:
        return str(exc)
    except (socket.gaierror, UnicodeError):
        return None  # may be a passing DNS failure: the send retries
    return None


def subscriptions(rendered: dict[str, Any]) -> list[dict[str, Any]]:
    """The web push subscriptions in a rendered message (``tokens`` of platform web)."""
    found = []
    for item in rendered.get("tokens") or []:
        if not isinstance(item, dict) or not item.get("token"):
            continue
        keys = item.get("keys") or {}
        if isinstance(keys, dict) and keys.get("p256dh") and keys.get("auth"):
            found.append({"endpoint": str(item["token"]), "keys": dict(keys)})
    return found


def subscription_remove(profile_id: int, endpoint: str) -> bool:
    """Drop a subscription from the profile (its push service said it is gone)."""
    from engine.models import Profile

    with transaction.atomic():
        profile = Profile.objects.select_for_update().filter(pk=profile_id).first()
        if profile is None:
            return False
        tokens = [
            t
            for t in (profile.push_tokens or [])
            if not (
                isinstance(t, dict) and t.get("platform") == "web" and t.get("token") == endpoint
            )
        ]
        if len(tokens) == len(profile.push_tokens or []):
            return False
        profile.push_tokens = tokens
        profile.save(update_fields=["push_tokens", "updated_at"])
    return True


# --- sending -------------------------------------------------------------------------


def _payload(rendered: dict[str, Any], idempotency_key: str) -> str:
    return json.dumps(
        {
            "title": str(rendered.get("title") or ""),
            "body": str(rendered.get("body") or ""),
            "url": str(rendered.get("url") or ""),
            "tag": idempotency_key,  # the service worker shows a redelivery once
        }
    )


def send_webpush(
    message_rendered: dict[str, Any],
    *,
    message_id: int,
    idempotency_key: str,
    config: ChannelConfig | None = None,
) -> Result:
    from engine.models import Message

    subs = subscriptions(message_rendered)
    if not subs:
        return Result.skipped("no web push subscription")
    row = Message.objects.filter(pk=message_id).values_list("project_id", "profile_id").first()
    if row is None:
        return Result.failed(f"message {message_id} is gone")
    project_id, profile_id = row
    data = _payload(message_rendered, idempotency_key)
    return push_to(
        subs,
        data,
        project_id=project_id,
        profile_id=profile_id,
        topic=idempotency_key[-32:],
        config=config,
    )


def push_to(
    subs: list[dict[str, Any]],
    data: str,
    *,
    project_id: int,
    profile_id: int,
    topic: str,
    config: ChannelConfig | None = None,
) -> Result:
    """POST ``data`` to each subscription of a profile with the project's VAPID key; a gone
    one (404/410) is removed from the profile. Sent when at least one push service took it."""
    _, private_pem = project_vapid_keys(project_id)
    vapid = Vapid.from_pem(private_pem.encode("ascii"))

    results: list[dict[str, Any]] = []
    retryable: list[str] = []
    permanent: list[str] = []
    sent = 0
    with requests.Session() as session:  # one connection per push service for this message
        for sub in subs:
            endpoint = sub["endpoint"]
            url = urlparse(endpoint)
            entry: dict[str, Any] = {"push_service": url.hostname or "", "endpoint": endpoint[-16:]}
            results.append(entry)
            problem = endpoint_problem(endpoint)
            if problem:
                entry["error"] = f"endpoint refused: {problem}"
                permanent.append(entry["error"])
                continue
            claims: dict[str, str | int] = {"sub": vapid_subject(config)}
            try:
                response = webpush(
                    sub,
                    data,
                    vapid_private_key=vapid,
                    vapid_claims=claims,
                    timeout=TIMEOUT_SECONDS,
                    ttl=TTL_SECONDS,
                    headers={"Urgency": "normal", "Topic": topic},
                    requests_session=session,
                )
            except WebPushException as exc:
                status = getattr(exc.response, "status_code", None)
                entry["status_code"] = status
                if status in GONE:
                    removed = subscription_remove(profile_id, endpoint)
                    entry["error"] = f"HTTP {status}: subscription gone"
                    entry["removed"] = removed
                    permanent.append(entry["error"])
                elif status is None or status in RETRYABLE or status >= 500:
                    entry["error"] = f"HTTP {status}" if status else str(exc)[:200]
                    retryable.append(entry["error"])
                else:
                    entry["error"] = f"HTTP {status}"
                    permanent.append(entry["error"])
                continue
            except requests.RequestException as exc:
                entry["error"] = f"{type(exc).__name__}: {exc}"[:300]
                retryable.append(entry["error"])
                continue
            except (ValueError, TypeError) as exc:  # malformed subscription keys
                entry["error"] = f"bad subscription: {exc}"[:300]
                permanent.append(entry["error"])
                continue
            status_code = getattr(response, "status_code", 0)
            entry["status_code"] = status_code
            entry["location"] = getattr(response, "headers", {}).get("Location", "")
            sent += 1

    facts: dict[str, Any] = {"provider": "webpush", "subscriptions": results}
    if sent:
        # Sending again to all because one failed would duplicate it on the others.
        return Result.sent(**facts, sent_to=sent)
    if retryable:
        return Result.retry("; ".join(retryable), **facts)
    return Result.failed("; ".join(permanent), **facts)


def send_record(
    message_rendered: dict[str, Any], *, message_id: int, idempotency_key: str
) -> Result:
    if not subscriptions(message_rendered):
        return Result.skipped("no web push subscription")
    return record.record(
        "web_push", message_rendered, message_id=message_id, idempotency_key=idempotency_key
    )


def default_backend() -> str:
    return "webpush"


BACKENDS = {"webpush": send_webpush, "record": send_record}
