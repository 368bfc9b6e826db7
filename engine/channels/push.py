"""Mobile push backend: FCM HTTP v1 (one request per device token), else record.

FCM_SERVER_KEY is sent as the bearer token (mint it from the service account, or
put an auth proxy in front); FCM_API_URL moves the base URL (tests point it at a
local server). A message counts as sent when at least one device accepted it.
"""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings

from engine.channels import Result, record

TIMEOUT_SECONDS = 10.0


def _configured() -> bool:
    return bool(settings.FCM_SERVER_KEY and settings.FCM_PROJECT_ID)


def _tokens(rendered: dict[str, Any]) -> list[dict[str, str]]:
    tokens = []
    for item in rendered.get("tokens") or []:
        if isinstance(item, dict) and item.get("token"):
            tokens.append({"token": str(item["token"]), "platform": str(item.get("platform", ""))})
    return tokens


def _fcm_message(rendered: dict[str, Any], token: str, idempotency_key: str) -> dict[str, Any]:
    data = {"journeys_message": idempotency_key}
    if rendered.get("url"):
        data["url"] = str(rendered["url"])
    return {
        "message": {
            "token": token,
            "notification": {
                "title": str(rendered.get("title") or ""),
                "body": str(rendered.get("body") or ""),
            },
            "data": data,
        }
    }


def send_fcm(message_rendered: dict[str, Any], *, message_id: int, idempotency_key: str) -> Result:
    tokens = _tokens(message_rendered)
    if not tokens:
        return Result.skipped("no push token")
    if not _configured():
        return Result.failed("push backend fcm needs FCM_SERVER_KEY and FCM_PROJECT_ID")
    url = f"{settings.FCM_API_URL.rstrip('/')}/v1/projects/{settings.FCM_PROJECT_ID}/messages:send"
    results: list[dict[str, Any]] = []
    retryable: list[str] = []
    permanent: list[str] = []
    with httpx.Client(
        timeout=TIMEOUT_SECONDS,
        follow_redirects=False,
        headers={"Authorization": f"Bearer {settings.FCM_SERVER_KEY}"},
    ) as client:
        for item in tokens:
            entry: dict[str, Any] = {"token": item["token"][-12:], "platform": item["platform"]}
            try:
                response = client.post(
                    url, json=_fcm_message(message_rendered, item["token"], idempotency_key)
                )
            except httpx.TransportError as exc:
                entry["error"] = f"{type(exc).__name__}: {exc or 'network error'}"
                retryable.append(entry["error"])
                results.append(entry)
                continue
            entry["status_code"] = response.status_code
            try:
                body = response.json()
            except ValueError:
                body = {}
            if response.is_success:
                entry["provider_id"] = body.get("name", "") if isinstance(body, dict) else ""
            else:
                error = body.get("error", {}) if isinstance(body, dict) else {}
                status = error.get("status", "") if isinstance(error, dict) else ""
                entry["error"] = f"HTTP {response.status_code} {status}".strip()
                if response.status_code in {408, 429} or response.status_code >= 500:
                    retryable.append(entry["error"])
                else:  # UNREGISTERED / INVALID_ARGUMENT / auth: trying again cannot help
                    permanent.append(entry["error"])
            results.append(entry)

    facts: dict[str, Any] = {"provider": "fcm", "devices": results}
    sent = sum(1 for entry in results if "provider_id" in entry)
    if sent:
        # Resending to every device because one of them failed would duplicate it on the others.
        return Result.sent(**facts, sent_to=sent)
    if retryable:
        return Result.retry("; ".join(retryable), **facts)
    return Result.failed("; ".join(permanent), **facts)


def send_record(
    message_rendered: dict[str, Any], *, message_id: int, idempotency_key: str
) -> Result:
    if not _tokens(message_rendered):
        return Result.skipped("no push token")
    return record.record(
        "push", message_rendered, message_id=message_id, idempotency_key=idempotency_key
    )


def default_backend() -> str:
    return "fcm" if _configured() else "record"


BACKENDS = {"fcm": send_fcm, "record": send_record}
