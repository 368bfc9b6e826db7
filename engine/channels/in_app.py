"""In-app messages: stored for the web SDK, which shows them as a pop-up.

The outbox row is the store: its ``rendered`` holds the pop-up and its
``expires_at``. "Sent" means stored and ready to be shown; the SDK's websocket
(engine/consumers.py, engine/in_app.py) then moves it to ``delivered`` when a page
gets it, ``opened`` when the visitor saw it and ``clicked`` when they clicked.
"""

from __future__ import annotations

from typing import Any

from engine.channels import Result, record


def store(message_rendered: dict[str, Any], *, message_id: int, idempotency_key: str) -> Result:
    return Result.sent(
        stored=True,
        expires_at=message_rendered.get("expires_at"),
        websocket="awaiting_page",  # handed to the SDK's websocket on its next page view or live
    )


def default_backend() -> str:
    return "store"


BACKENDS = {"store": store, "record": record.sender("in_app")}
