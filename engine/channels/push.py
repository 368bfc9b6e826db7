"""Mobile push backend: FCM HTTP v1 (one request per device token), else record.

Authentication: FCM_SERVICE_ACCOUNT (the service account's JSON, or a path to it):
the product mints OAuth access tokens from it with google-auth and refreshes them
before they expire (one token per process, shared by every send). FCM_SERVER_KEY, if
set instead, is sent as the bearer token as it is (a token minted elsewhere, or an
auth proxy). FCM_PROJECT_ID defaults to the service account's project. FCM_API_URL
moves the base URL (tests point it at a local server). A message counts as sent when
at least one device accepted it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings

from engine.channel_settings import ChannelConfig
from engine.channels import Result, record

TIMEOUT_SECONDS = 10.0
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"

_tokens_lock = threading.Lock()
_credentials: dict[str, Any] = {}  # service account JSON -> google-auth Credentials
MAX_ACCOUNTS = 256


class AuthProblem(Exception):
    """No access token: ``retry`` says whether trying again later may help."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


def _service_account() -> dict[str, Any] | None:
    """The service account JSON from FCM_SERVICE_ACCOUNT (inline or a file), or None."""
    raw = (settings.FCM_SERVICE_ACCOUNT or "").strip()
    if not raw:
        return None
    try:
        text = raw if raw.startswith("{") else Path(raw).read_text(encoding="utf-8")
        info = json.loads(text)
    except (OSError, ValueError) as exc:
        raise AuthProblem(f"FCM_SERVICE_ACCOUNT is not readable JSON: {exc}", retry=False) from exc
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise AuthProblem("FCM_SERVICE_ACCOUNT is not a service account JSON", retry=False)
    return info


def _project_id() -> str:
    if settings.FCM_PROJECT_ID:
        return str(settings.FCM_PROJECT_ID)
    try:
        info = _service_account()
    except AuthProblem:
        return ""
    return str((info or {}).get("project_id") or "")


def _configured() -> bool:
    has_auth = bool(settings.FCM_SERVER_KEY or (settings.FCM_SERVICE_ACCOUNT or "").strip())
    return has_auth and bool(_project_id())


def access_token(info: dict[str, Any] | None = None) -> str:
    """A bearer token for FCM: from ``info`` (a project's service account), else
    FCM_SERVER_KEY, else one minted from FCM_SERVICE_ACCOUNT (kept and reused until it is
    about to expire, then refreshed)."""
    if info is None and settings.FCM_SERVER_KEY:
        return str(settings.FCM_SERVER_KEY)
    info = info or _service_account()
    if info is None:
        raise AuthProblem(
            "push backend fcm needs FCM_SERVICE_ACCOUNT or FCM_SERVER_KEY", retry=False
        )
    from google.auth import exceptions as google_exceptions
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    key = json.dumps(info, sort_keys=True)
    with _tokens_lock:  # one refresh at a time; the others reuse its token
        credentials = _credentials.get(key)
        if credentials is None:
            try:
                credentials = service_account.Credentials.from_service_account_info(
                    info, scopes=[FCM_SCOPE]
                )
            except (ValueError, KeyError) as exc:
                raise AuthProblem(f"bad service account: {exc}", retry=False) from exc
            if len(_credentials) >= MAX_ACCOUNTS:  # each project may bring its own account
                _credentials.pop(next(iter(_credentials)))
            _credentials[key] = credentials
        if not credentials.valid:  # none yet, or expiring within google-auth's margin
            try:
                credentials.refresh(Request())
            except google_exceptions.RefreshError as exc:
                text = str(exc)
                permanent = "invalid_grant" in text or "invalid_client" in text
                raise AuthProblem(f"FCM token refused: {text[:300]}", retry=not permanent) from exc
            except google_exceptions.TransportError as exc:
                raise AuthProblem(f"FCM token endpoint unreachable: {exc}", retry=True) from exc
        return str(credentials.token)


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


def send_fcm(
    message_rendered: dict[str, Any],
    *,
    message_id: int,
    idempotency_key: str,
    config: ChannelConfig | None = None,
) -> Result:
    tokens = _tokens(message_rendered)
    if not tokens:
        return Result.skipped("no push token")
    info: dict[str, Any] | None = None
    if config is not None:  # the project's own service account
        if config.problem:
            return Result.failed(config.problem)
        info = json.loads(str(config.get("service_account")))
        project_id = str(info.get("project_id") or "")
    elif not _configured():
        return Result.failed(
            "push backend fcm needs FCM_SERVICE_ACCOUNT (or FCM_SERVER_KEY and FCM_PROJECT_ID)"
        )
    else:
        project_id = _project_id()
    try:
        token = access_token(info)
    except AuthProblem as exc:
        return Result.retry(str(exc)) if exc.retry else Result.failed(str(exc))
    url = f"{settings.FCM_API_URL.rstrip('/')}/v1/projects/{project_id}/messages:send"
    results: list[dict[str, Any]] = []
    retryable: list[str] = []
    permanent: list[str] = []
    with httpx.Client(
        timeout=TIMEOUT_SECONDS,
        follow_redirects=False,
        headers={"Authorization": f"Bearer {token}"},
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
