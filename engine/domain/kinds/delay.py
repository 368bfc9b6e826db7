"""The Delay kind: wait a fixed time before the next block."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..blocks import Block, BlockHeader
from ..fields import BlockContext
from .base import BlockType, field_spec


@dataclass(frozen=True)
class DelayBlock(Block):
    """Wait ``duration`` seconds (> 0)."""

    duration: int


def parse_delay(raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader) -> Block | None:
    duration = ctx.reader.get_duration(raw, ctx.path, "duration", required=True)
    if duration is None:
        return None
    return DelayBlock(head.id, head.type, duration, name=head.name)


KIND = BlockType(
    "delay",
    "Delay",
    "flow",
    False,
    True,
    parse_delay,
    (field_spec("duration", "duration", True, "How long to wait before the next block"),),
    "Wait before the next block",
)
