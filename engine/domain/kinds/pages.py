"""The page kinds, fed by the web SDK's Page Viewed events: Page Visit, Referrer Entry, Page Count."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..blocks import Block, BlockHeader
from ..fields import BlockContext, Comparison
from ..filters import VALUE_FILTER_OPS, ValueFilter
from .base import WITHIN_FIELD, BlockType, field_spec, within

SCOPE_CHOICES: tuple[str, ...] = ("session", "total")


@dataclass(frozen=True)
class PageVisitBlock(Block):
    """Viewed a page whose URL matches ``url``."""

    url: ValueFilter
    within: int | None = None


@dataclass(frozen=True)
class ReferrerEntryBlock(Block):
    """Viewed a page with a referrer matching ``referrer``."""

    referrer: ValueFilter
    within: int | None = None


@dataclass(frozen=True)
class PageCountBlock(Block):
    """Viewed a number of pages matching ``count``, in the session or in total (``scope``)."""

    count: Comparison
    scope: str = "session"
    within: int | None = None


def parse_page_visit(raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader) -> Block | None:
    url = ctx.reader.value_filter(raw, ctx.path, "url")
    within_ = within(raw, ctx)
    if url is None:
        return None
    return PageVisitBlock(head.id, head.type, url, within_, name=head.name)


def parse_referrer_entry(
    raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader
) -> Block | None:
    referrer = ctx.reader.value_filter(raw, ctx.path, "referrer")
    within_ = within(raw, ctx)
    if referrer is None:
        return None
    return ReferrerEntryBlock(head.id, head.type, referrer, within_, name=head.name)


def parse_page_count(raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader) -> Block | None:
    r = ctx.reader
    count = r.comparison(raw, ctx.path, "count", minimum=1, required=True)
    scope = r.get_choice(raw, ctx.path, "scope", SCOPE_CHOICES, default="session")
    within_ = within(raw, ctx)
    if count is None or scope is None:
        return None
    return PageCountBlock(head.id, head.type, count, scope, within_, name=head.name)


PAGE_VISIT = BlockType(
    "page_visit",
    "Page Visit",
    "segment",
    True,
    True,
    parse_page_visit,
    (
        field_spec("url", "value_filter", True, "The page URL", choices=VALUE_FILTER_OPS),
        WITHIN_FIELD,
    ),
    "The user views a matching page",
)
REFERRER_ENTRY = BlockType(
    "referrer_entry",
    "Referrer Entry",
    "segment",
    True,
    True,
    parse_referrer_entry,
    (
        field_spec("referrer", "value_filter", True, "The referrer", choices=VALUE_FILTER_OPS),
        WITHIN_FIELD,
    ),
    "The user arrives from a matching referrer",
)
PAGE_COUNT = BlockType(
    "page_count",
    "Page Count",
    "segment",
    True,
    True,
    parse_page_count,
    (
        field_spec(
            "count",
            "comparison",
            True,
            "Number of pages viewed",
            choices=("eq", "neq", "gt", "gte", "lt", "lte"),
        ),
        field_spec(
            "scope",
            "choice",
            False,
            "In the session or in total",
            choices=SCOPE_CHOICES,
            default="session",
        ),
        WITHIN_FIELD,
    ),
    "The user has viewed a number of pages",
)
