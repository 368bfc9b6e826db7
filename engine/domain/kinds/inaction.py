"""The Inaction kind: the user does not perform an event within a time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..blocks import Block, BlockHeader
from ..fields import BlockContext
from ..filters import FILTER_OPS, Filter
from .base import BlockType, field_spec


@dataclass(frozen=True)
class InactionBlock(Block):
    """Did NOT do ``not_event`` within ``within``; at entry, counted from doing ``event``."""

    event: str | None
    where: tuple[Filter, ...]
    not_event: str
    not_where: tuple[Filter, ...]
    within: int


def parse_inaction(raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader) -> Block | None:
    r = ctx.reader
    event: str | None = None
    where: tuple[Filter, ...] | None = ()
    if ctx.at_entry:
        event = r.get_event(raw, ctx.path, "event", required=True)
        where = r.where(raw, ctx.path)
    else:
        message = "Inside a journey, inaction counts from the user's arrival; remove '{key}'"
        r.forbid(raw, ctx.path, "event", message.format(key="event"))
        if raw.get("where"):
            r.error(ctx.at("where"), message.format(key="where"))
    not_event = r.get_event(raw, ctx.path, "not_event", required=True)
    not_where = r.where(raw, ctx.path, "not_where")
    within = r.get_duration(raw, ctx.path, "within", required=True)
    if (ctx.at_entry and event is None) or where is None:
        return None
    if not_event is None or not_where is None or within is None:
        return None
    return InactionBlock(
        head.id, head.type, event, where, not_event, not_where, within, name=head.name
    )


KIND = BlockType(
    "inaction",
    "Inaction",
    "segment",
    True,
    True,
    parse_inaction,
    (
        field_spec("event", "event", True, "The event that starts the wait", where="entry"),
        field_spec(
            "where", "filters", False, "Filters on that event", where="entry", choices=FILTER_OPS
        ),
        field_spec("not_event", "event", True, "The event the user must NOT perform"),
        field_spec("not_where", "filters", False, "Filters on that event", choices=FILTER_OPS),
        field_spec("within", "duration", True, "How long the user has to not perform it"),
    ),
    "The user does not perform an event within a time",
)
