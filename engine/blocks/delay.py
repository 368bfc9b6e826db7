"""Delay in the engine: arriving sets a timer; when it comes due the user moves on."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .base import Handler, Settled, UniformWake


class Delay(Handler):
    def settle(self, block: Any, now: datetime) -> Settled | None:
        return {"node_state": "waiting", "wake_at": now + timedelta(seconds=block.duration)}

    def uniform_wake(self, block: Any) -> UniformWake | None:
        return UniformWake(None, {"waited_seconds": block.duration})


HANDLERS = {"delay": Delay()}
