"""The local/dev backend of every channel: records what would have been sent, sends nothing.

A recorded message lands in three places: ``outbox`` (this process, for tests, like
Django's ``mail.outbox``), one JSON line in ``JOURNEYS_RECORD_DIR/<channel>.jsonl``
(readable across the web, worker and scheduler processes), and the log.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from engine.channels import Result

logger = logging.getLogger(__name__)

# The newest recorded messages only: a long-running dev worker must not grow without bound.
outbox: deque[dict[str, Any]] = deque(maxlen=10_000)
_file_lock = threading.Lock()


def record(
    channel: str, message_rendered: dict[str, Any], *, message_id: int, idempotency_key: str
) -> Result:
    entry = {
        "channel": channel,
        "message_id": message_id,
        "idempotency_key": idempotency_key,
        "recorded_at": timezone.now().isoformat(),
        "rendered": message_rendered,
    }
    outbox.append(entry)
    directory = getattr(settings, "JOURNEYS_RECORD_DIR", "")
    path = ""
    if directory:
        target = Path(directory) / f"{channel}.jsonl"
        try:
            with _file_lock:
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry, default=str) + "\n")
            path = str(target)
        except OSError as exc:  # recording is best effort; the row still says "recorded"
            logger.warning(
                "could not append %s message %s to %s: %s", channel, message_id, target, exc
            )
    logger.info("recorded %s message %s (not sent: record backend)", channel, message_id)
    return Result.recorded(recorded=True, record_file=path)


def sender(channel: str) -> Any:
    """A send function recording for ``channel``."""

    def send(message_rendered: dict[str, Any], *, message_id: int, idempotency_key: str) -> Result:
        return record(
            channel, message_rendered, message_id=message_id, idempotency_key=idempotency_key
        )

    return send
