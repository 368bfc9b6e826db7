"""The registry of block kinds: the one list of every kind a journey can use.

A kind is one module in engine/domain/kinds/ (its dataclass, parser, fields and
branches) plus its line below; validation, the engine's handlers (engine/blocks/),
stats and the canvas palette read it from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .kinds import action, date_time, delay, inaction, journey_trigger, message, pages, split
from .kinds import past_behaviour as past
from .kinds.base import SEGMENT_BRANCHES, BlockType, FieldSpec, ParseFn

__all__ = [
    "REGISTRY",
    "SEGMENT_BRANCHES",
    "BlockType",
    "FieldSpec",
    "ParseFn",
    "block_type",
    "kind_of",
    "palette",
]

_KINDS: tuple[BlockType, ...] = (
    action.KIND,
    inaction.KIND,
    past.KIND,
    date_time.KIND,
    journey_trigger.KIND,
    pages.PAGE_VISIT,
    pages.REFERRER_ENTRY,
    pages.PAGE_COUNT,
    message.PUSH,
    message.WEB_PUSH,
    message.EMAIL,
    message.SMS,
    message.IN_APP,
    message.WEBHOOK,
    delay.KIND,
    split.KIND,
)

REGISTRY: Mapping[str, BlockType] = {t.type: t for t in _KINDS}


def block_type(type_: str) -> BlockType | None:
    """The registered block type, or None."""
    return REGISTRY.get(type_)


def kind_of(block: Any) -> BlockType:
    """The kind of a parsed block (every parsed block has a registered type)."""
    return REGISTRY[block.type]


def palette() -> list[dict[str, Any]]:
    """Every block type as JSON for the canvas palette, in registry order."""
    return [t.as_dict() for t in REGISTRY.values()]
