"""The Journey Trigger kind (entry only): users qualified for a block of another journey."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..blocks import Block, BlockHeader
from ..fields import ID_PATTERN, BlockContext
from .base import BlockType, field_spec


@dataclass(frozen=True)
class JourneyTriggerBlock(Block):
    """Entry only: qualified for block ``node`` of journey ``journey`` (ids as strings)."""

    journey: str
    node: str


def parse_journey_trigger(
    raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader
) -> Block | None:
    journey_raw = raw.get("journey")
    journey: str | None = None
    if journey_raw is None:
        ctx.error("journey", "'journey' is required (the id of another journey of this project)")
    elif isinstance(journey_raw, bool) or not isinstance(journey_raw, str | int):
        ctx.error("journey", "'journey' must be a journey id")
    elif isinstance(journey_raw, int):
        if journey_raw < 1 or journey_raw > 2**63:
            ctx.error("journey", "'journey' must be a journey id")
        else:
            journey = str(journey_raw)
    elif not journey_raw.strip() or len(journey_raw) > 64:
        ctx.error("journey", "'journey' must be a journey id")
    else:
        journey = journey_raw
    node = raw.get("node")

    if node is None:
        ctx.error("node", "'node' is required (a block id of that journey)")
        node = None
    elif not isinstance(node, str) or not ID_PATTERN.match(node):
        ctx.error("node", "'node' must be a block id")
        node = None
    if journey is None or node is None:
        return None
    validation = ctx.validation
    if validation is not None:
        if validation.this_journey is not None and str(validation.this_journey) == journey:
            ctx.error(
                "journey", "A journey cannot be triggered by its own blocks; choose another journey"
            )
            return None
        blocks = validation.journey_blocks(journey)
        if blocks is None:
            ctx.error("journey", f"Journey '{journey}' does not exist in this project")
            return None
        if node not in blocks:
            ctx.error("node", f"Journey '{journey}' has no block '{node}'")
            return None
    return JourneyTriggerBlock(head.id, head.type, journey, node, name=head.name)


KIND = BlockType(
    "journey_trigger",
    "Journey Trigger",
    "segment",
    True,
    False,
    parse_journey_trigger,
    (
        field_spec("journey", "journey", True, "Another journey of this project"),
        field_spec("node", "block", True, "A block of that journey"),
    ),
    "Users qualified for a block of another journey",
)
