"""Delay in the engine: arriving sets a timer; when it comes due the user moves on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .base import Handler, Settled, WakeSql

if TYPE_CHECKING:
    from engine.runner import Outcome, Row


class Delay(Handler):
    def settle(self, block: Any, now: datetime) -> Settled | None:
        return {"node_state": "waiting", "wake_at": now + timedelta(seconds=block.duration)}

    def wake(self, block: Any, rows: Sequence[Row]) -> dict[int, Outcome] | None:
        return {r.id: (None, {"waited_seconds": block.duration}) for r in rows}

    def wake_sql(self, block: Any) -> WakeSql | None:
        return None, "jsonb_build_object('waited_seconds', %s::int)", [block.duration]


HANDLERS = {"delay": Delay()}
