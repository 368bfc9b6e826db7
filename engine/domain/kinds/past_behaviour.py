"""The Past Behaviour kind: what the user did or did not do in the last days."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..blocks import MATCH_CHOICES, Block, BlockHeader, Condition, parse_conditions, parse_window
from ..fields import BlockContext
from .base import BlockType, field_spec

EVALUATE_CHOICES: tuple[str, ...] = ("midnight", "on_arrival")
_ONLY_INSIDE = "'{key}' can be set only inside a journey, not on the entry"


@dataclass(frozen=True)
class PastBehaviourBlock(Block):
    """Conditions over the last ``window_days`` days; ``evaluate`` is None at entry."""

    window_days: int
    match: str
    conditions: tuple[Condition, ...]
    evaluate: str | None = None


def parse_past_behaviour(
    raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader
) -> Block | None:
    r = ctx.reader
    window, match = parse_window(r, raw, ctx.path)
    conditions = parse_conditions(r, raw, ctx.path)
    evaluate: str | None = None
    if ctx.at_entry:
        r.forbid(raw, ctx.path, "evaluate", _ONLY_INSIDE.format(key="evaluate"))
    else:
        evaluate = r.get_choice(raw, ctx.path, "evaluate", EVALUATE_CHOICES, default="midnight")
        if evaluate is None:
            return None
    if window is None or match is None or conditions is None:
        return None
    return PastBehaviourBlock(
        head.id, head.type, window, match, conditions, evaluate, name=head.name
    )


WINDOW_FIELDS = (
    field_spec("window_days", "int", True, "Look back this many days (1 to 3650)"),
    field_spec(
        "match",
        "choice",
        False,
        "Whether all or any condition must hold",
        choices=MATCH_CHOICES,
        default="all",
    ),
    field_spec("conditions", "conditions", True, "did / did_not / profile conditions"),
)

KIND = BlockType(
    "past_behaviour",
    "Past Behaviour",
    "segment",
    True,
    True,
    parse_past_behaviour,
    (
        *WINDOW_FIELDS,
        field_spec(
            "evaluate",
            "choice",
            False,
            "Evaluate at 12:00 am project time, or on arrival",
            where="inside",
            choices=EVALUATE_CHOICES,
            default="midnight",
        ),
    ),
    "What the user did or did not do in the last days",
)
