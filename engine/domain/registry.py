"""The registry of block types: what each type string is, where it may go, its fields and parser.

Adding a block type is one dataclass + parse function (``blocks.py`` or its own module)
and one line in ``_TYPES`` below; validation, the engine and the canvas palette read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import blocks as b
from .fields import BlockContext
from .filters import FILTER_OPS, VALUE_FILTER_OPS

__all__ = ["REGISTRY", "BlockType", "FieldSpec", "ParseFn", "block_type", "palette"]

ParseFn = Callable[[Mapping[str, Any], BlockContext, b.BlockHeader], b.Block | None]
SEGMENT_BRANCHES: tuple[str, ...] = ("yes", "no")


@dataclass(frozen=True)
class FieldSpec:
    """One field of a block type, for the canvas palette and docs.

    ``where`` is ``both``, ``entry`` or ``inside``: the positions where the field applies.
    """

    name: str
    kind: str
    required: bool
    help: str
    where: str = "both"
    choices: tuple[str, ...] = ()
    default: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "required": self.required,
            "help": self.help,
            "where": self.where,
            "choices": list(self.choices),
            "default": self.default,
        }


@dataclass(frozen=True)
class BlockType:
    """A block type: ``category`` is ``segment``, ``message`` or ``flow``."""

    type: str
    label: str
    category: str
    entry: bool
    inside: bool
    parse: ParseFn
    fields: tuple[FieldSpec, ...]
    description: str = ""
    channel: str | None = None

    @property
    def branches(self) -> tuple[str, ...]:
        return SEGMENT_BRANCHES if self.category == "segment" else ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "label": self.label,
            "category": self.category,
            "entry": self.entry,
            "inside": self.inside,
            "branches": list(self.branches),
            "channel": self.channel,
            "description": self.description,
            "fields": [f.as_dict() for f in self.fields],
        }


def _f(name: str, kind: str, required: bool, help: str, **extra: Any) -> FieldSpec:
    return FieldSpec(name, kind, required, help, **extra)


_WHERE = _f(
    "where", "filters", False, "Property filters on the event; all must hold", choices=FILTER_OPS
)
_WITHIN = _f(
    "within", "duration", False, "How long to wait for it (empty: no limit)", where="inside"
)
_WINDOW = (
    _f("window_days", "int", True, "Look back this many days (1 to 3650)"),
    _f(
        "match",
        "choice",
        False,
        "Whether all or any condition must hold",
        choices=("all", "any"),
        default="all",
    ),
    _f("conditions", "conditions", True, "did / did_not / profile conditions"),
)


def _segment(
    type_: str,
    label: str,
    parse: ParseFn,
    fields: tuple[FieldSpec, ...],
    description: str,
    *,
    inside: bool = True,
) -> BlockType:
    return BlockType(type_, label, "segment", True, inside, parse, fields, description)


def _message(type_: str, label: str, description: str) -> BlockType:
    fields = tuple(
        _f(name, "template", required, f"{name.replace('_', ' ').capitalize()} (Liquid template)")
        for name, required in b.MESSAGE_FIELDS[type_]
    )
    if type_ == "in_app":
        fields += (
            _f(
                "expires_after",
                "duration",
                False,
                "Drop the message if not shown by then",
                default="P1D",
            ),
        )
    if type_ == "webhook":
        fields += (
            _f("method", "choice", False, "HTTP method", choices=b.WEBHOOK_METHODS, default="POST"),
            _f("headers", "headers", False, "Header name to value (Liquid templates)"),
        )
    return BlockType(
        type_, label, "message", False, True, b.parse_message, fields, description, channel=type_
    )


_TYPES: tuple[BlockType, ...] = (
    _segment(
        "action",
        "Action",
        b.parse_action,
        (_f("event", "event", True, "The event the user performs"), _WHERE, _WITHIN),
        "The user performs an event",
    ),
    _segment(
        "inaction",
        "Inaction",
        b.parse_inaction,
        (
            _f("event", "event", True, "The event that starts the wait", where="entry"),
            _f(
                "where",
                "filters",
                False,
                "Filters on that event",
                where="entry",
                choices=FILTER_OPS,
            ),
            _f("not_event", "event", True, "The event the user must NOT perform"),
            _f("not_where", "filters", False, "Filters on that event", choices=FILTER_OPS),
            _f("within", "duration", True, "How long the user has to not perform it"),
        ),
        "The user does not perform an event within a time",
    ),
    _segment(
        "past_behaviour",
        "Past Behaviour",
        b.parse_past_behaviour,
        (
            *_WINDOW,
            _f(
                "evaluate",
                "choice",
                False,
                "Evaluate at 12:00 am project time, or on arrival",
                where="inside",
                choices=("midnight", "on_arrival"),
                default="midnight",
            ),
        ),
        "What the user did or did not do in the last days",
    ),
    _segment(
        "date_time",
        "Date Time",
        b.parse_date_time,
        (
            _f("property", "property", True, "A date-time profile property"),
            _f(
                "offset",
                "signed_duration",
                False,
                "Before (negative) or after the property",
                default=0,
            ),
        ),
        "Relative to a date-time profile property",
    ),
    _segment(
        "journey_trigger",
        "Journey Trigger",
        b.parse_journey_trigger,
        (
            _f("journey", "journey", True, "Another journey of this project"),
            _f("node", "block", True, "A block of that journey"),
        ),
        "Users qualified for a block of another journey",
        inside=False,
    ),
    _segment(
        "page_visit",
        "Page Visit",
        b.parse_page_visit,
        (_f("url", "value_filter", True, "The page URL", choices=VALUE_FILTER_OPS), _WITHIN),
        "The user views a matching page",
    ),
    _segment(
        "referrer_entry",
        "Referrer Entry",
        b.parse_referrer_entry,
        (_f("referrer", "value_filter", True, "The referrer", choices=VALUE_FILTER_OPS), _WITHIN),
        "The user arrives from a matching referrer",
    ),
    _segment(
        "page_count",
        "Page Count",
        b.parse_page_count,
        (
            _f(
                "count",
                "comparison",
                True,
                "Number of pages viewed",
                choices=("eq", "neq", "gt", "gte", "lt", "lte"),
            ),
            _f(
                "scope",
                "choice",
                False,
                "In the session or in total",
                choices=("session", "total"),
                default="session",
            ),
            _WITHIN,
        ),
        "The user has viewed a number of pages",
    ),
    _message("push", "Mobile Push", "A push notification to the user's mobile devices"),
    _message("web_push", "Web Push", "A browser push notification"),
    _message("email", "Email", "An email"),
    _message("sms", "SMS", "A text message"),
    _message("in_app", "In-App", "A pop-up on the website, shown by the web SDK"),
    _message("webhook", "Webhook", "An HTTP request to your server"),
    BlockType(
        "delay",
        "Delay",
        "flow",
        False,
        True,
        b.parse_delay,
        (_f("duration", "duration", True, "How long to wait before the next block"),),
        "Wait before the next block",
    ),
)

REGISTRY: Mapping[str, BlockType] = {t.type: t for t in _TYPES}


def block_type(type_: str) -> BlockType | None:
    """The registered block type, or None."""
    return REGISTRY.get(type_)


def palette() -> list[dict[str, Any]]:
    """Every block type as JSON for the canvas palette, in registry order."""
    return [t.as_dict() for t in REGISTRY.values()]
