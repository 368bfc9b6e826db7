"""The Date Time kind: qualifies at a date-time profile property plus an offset."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..blocks import Block, BlockHeader
from ..fields import BlockContext
from .base import BlockType, field_spec


@dataclass(frozen=True)
class DateTimeBlock(Block):
    """Qualifies at profile property ``property`` (a date-time) + ``offset`` seconds."""

    property: str
    offset: int = 0


def parse_date_time(raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader) -> Block | None:
    r = ctx.reader
    prop = r.property_name(raw.get("property"), ctx.at("property"))
    offset = r.get_duration(
        raw, ctx.path, "offset", required=False, positive=False, allow_negative=True
    )
    if prop is None or (offset is None and raw.get("offset") is not None):
        return None
    return DateTimeBlock(head.id, head.type, prop, offset or 0, name=head.name)


KIND = BlockType(
    "date_time",
    "Date Time",
    "segment",
    True,
    True,
    parse_date_time,
    (
        field_spec("property", "property", True, "A date-time profile property"),
        field_spec(
            "offset",
            "signed_duration",
            False,
            "Before (negative) or after the property",
            default=0,
        ),
    ),
    "Relative to a date-time profile property",
)
