"""Web push (browser notifications): only the record backend for now.

A real backend needs VAPID keys and the Web Push protocol (RFC 8291 payload
encryption), which needs a dependency we do not carry yet; until then web push
messages are recorded, not sent (docs/channels.md says so).
"""

from __future__ import annotations

from typing import Any

from engine.channels import Result, record


def send_record(
    message_rendered: dict[str, Any], *, message_id: int, idempotency_key: str
) -> Result:
    if not any(
        isinstance(t, dict) and t.get("token") for t in message_rendered.get("tokens") or []
    ):
        return Result.skipped("no web push subscription")
    return record.record(
        "web_push", message_rendered, message_id=message_id, idempotency_key=idempotency_key
    )


def default_backend() -> str:
    return "record"


BACKENDS = {"record": send_record}
