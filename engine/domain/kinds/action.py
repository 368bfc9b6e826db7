"""The Action kind: the user performs an event (entry, or waited for inside)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..blocks import Block, BlockHeader
from ..fields import BlockContext
from ..filters import FILTER_OPS, Filter
from .base import WITHIN_FIELD, BlockType, field_spec, within


@dataclass(frozen=True)
class ActionBlock(Block):
    """Did ``event`` (matching ``where``); inside, waits up to ``within`` (None = no limit)."""

    event: str
    where: tuple[Filter, ...] = ()
    within: int | None = None


def parse_action(raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader) -> Block | None:
    r = ctx.reader
    event = r.get_event(raw, ctx.path, "event", required=True)
    where = r.where(raw, ctx.path)
    within_ = within(raw, ctx)
    if event is None or where is None:
        return None
    return ActionBlock(head.id, head.type, event, where, within_, name=head.name)


WHERE_FIELD = field_spec(
    "where", "filters", False, "Property filters on the event; all must hold", choices=FILTER_OPS
)

KIND = BlockType(
    "action",
    "Action",
    "segment",
    True,
    True,
    parse_action,
    (field_spec("event", "event", True, "The event the user performs"), WHERE_FIELD, WITHIN_FIELD),
    "The user performs an event",
)
