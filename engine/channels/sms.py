"""SMS backend: the Twilio Messages API (or any API speaking it), else record.

TWILIO_API_URL moves the base URL (a compatible provider, or a local server in
tests). The operator configures it, so it is not behind the webhook SSRF guard.
"""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings

from engine.channel_settings import ChannelConfig
from engine.channels import Result, record

TIMEOUT_SECONDS = 10.0


def _configured() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM)


def _provider_error(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if isinstance(data, dict):
        return f"HTTP {response.status_code}: code {data.get('code')}: {data.get('message')}"
    return f"HTTP {response.status_code}"


def send_twilio(
    message_rendered: dict[str, Any],
    *,
    message_id: int,
    idempotency_key: str,
    config: ChannelConfig | None = None,
) -> Result:
    to = str(message_rendered.get("to") or "").strip()
    if not to:
        return Result.skipped("no phone number")
    if config is not None:  # the project's own Twilio account
        if config.problem:
            return Result.failed(config.problem)
        sid, token = str(config.get("account_sid")), str(config.get("auth_token"))
        from_number = str(config.get("from_number"))
    elif not _configured():
        return Result.failed("SMS backend twilio needs TWILIO_ACCOUNT_SID, _AUTH_TOKEN and _FROM")
    else:
        sid, token = settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN
        from_number = settings.TWILIO_FROM
    url = f"{settings.TWILIO_API_URL.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"
    sender = "MessagingServiceSid" if from_number.startswith("MG") else "From"
    try:
        response = httpx.post(
            url,
            auth=(sid, token),
            data={
                "To": to,
                sender: from_number,
                "Body": str(message_rendered.get("body") or ""),
            },
            # Twilio itself ignores it; compatible providers that dedupe may not.
            headers={"Idempotency-Key": idempotency_key},
            timeout=TIMEOUT_SECONDS,
            follow_redirects=False,
        )
    except httpx.TransportError as exc:
        return Result.retry(f"{type(exc).__name__}: {exc or 'network error'}")
    status = response.status_code
    if 200 <= status < 300:
        try:
            data = response.json()
        except ValueError:
            data = {}
        return Result.sent(
            provider="twilio",
            status_code=status,
            provider_id=data.get("sid", "") if isinstance(data, dict) else "",
            provider_status=data.get("status", "") if isinstance(data, dict) else "",
        )
    error = _provider_error(response)
    if status in {408, 429} or status >= 500:
        return Result.retry(error, provider="twilio", status_code=status)
    return Result.failed(error, provider="twilio", status_code=status)


def send_record(
    message_rendered: dict[str, Any], *, message_id: int, idempotency_key: str
) -> Result:
    if not str(message_rendered.get("to") or "").strip():
        return Result.skipped("no phone number")
    return record.record(
        "sms", message_rendered, message_id=message_id, idempotency_key=idempotency_key
    )


def default_backend() -> str:
    return "twilio" if _configured() else "record"


BACKENDS = {"twilio": send_twilio, "record": send_record}
