"""Message kinds in the engine: arriving writes the outbox rows and moves the users on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.domain import REGISTRY

from .base import Handler

if TYPE_CHECKING:
    from engine import loaders
    from engine.runner import Row


class Message(Handler):
    def arrive(
        self, version: loaders.Version, node: str, rows: Sequence[Row], now: datetime
    ) -> dict[str, list[int]]:
        from engine import outbox, runner

        block: Any = version.definition.node(node)
        outbox.write(version, block, rows, now)
        return runner.leave(
            version, rows, {r.id: (None, {"channel": block.channel}) for r in rows}, now
        )


HANDLERS = {t.type: Message() for t in REGISTRY.values() if t.category == "message"}
