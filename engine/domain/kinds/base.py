"""What a block kind is: its description (fields, branches, where it may go) and its parser."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..blocks import Block, BlockHeader
from ..fields import BlockContext

__all__ = [
    "SEGMENT_BRANCHES",
    "BlockType",
    "DecideFn",
    "FieldSpec",
    "ParseFn",
    "field_spec",
    "within",
]

ParseFn = Callable[[Mapping[str, Any], BlockContext, BlockHeader], Block | None]
# A decision taken for one user on arrival, from the block and who they are:
# (block, journey id, profile id) -> (branch, what the step log records).
DecideFn = Callable[[Any, int, int], tuple[str, dict[str, Any]]]
SEGMENT_BRANCHES: tuple[str, ...] = ("yes", "no")
_ONLY_INSIDE = "'{key}' can be set only inside a journey, not on the entry"


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
    """A block kind: ``category`` is ``segment``, ``message`` or ``flow``.

    Branches: a segment block leaves on ``yes`` or ``no``; a kind with ``branches_of``
    names its branches in its own data (``branches_field`` is the field holding them);
    the others have one way out (no branch). ``terminal_branches_of`` names branches
    that may not lead anywhere (their users stay out of what follows). ``decide`` is a
    pure per-user decision taken on arrival, for kinds that need no database to decide.
    """

    type: str
    label: str
    category: str
    entry: bool
    inside: bool
    parse: ParseFn
    fields: tuple[FieldSpec, ...]
    description: str = ""
    channel: str | None = None
    branches_of: Callable[[Any], tuple[str, ...]] | None = None
    branches_field: str | None = None
    terminal_branches_of: Callable[[Any], tuple[str, ...]] | None = None
    decide: DecideFn | None = None

    @property
    def branches(self) -> tuple[str, ...]:
        """The fixed branches of the kind (a kind with named branches has none fixed)."""
        return SEGMENT_BRANCHES if self.category == "segment" else ()

    def block_branches(self, block: Any) -> tuple[str, ...]:
        """The branches a block of this kind leaves on (empty: one way out, no branch)."""
        if self.branches_of is not None:
            return self.branches_of(block)
        return self.branches

    def terminal_branches(self, block: Any) -> tuple[str, ...]:
        return self.terminal_branches_of(block) if self.terminal_branches_of else ()

    def qualifies(self, branch: str | None) -> bool:
        """Whether leaving on ``branch`` counts as qualifying for the block (Journey Trigger):
        ``yes`` out of a segment block, any way out of the others."""
        return branch == "yes" if self.category == "segment" else True

    def as_dict(self) -> dict[str, Any]:
        out = {
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
        if self.branches_field is not None:
            # The block names its branches itself, in this field (see docs/journey-format.md).
            out["branches_from"] = self.branches_field
        return out


def field_spec(name: str, kind: str, required: bool, help: str, **extra: Any) -> FieldSpec:
    return FieldSpec(name, kind, required, help, **extra)


def within(raw: Mapping[str, Any], ctx: BlockContext) -> int | None:
    """The optional ``within`` of a block that waits for something inside a journey."""
    if ctx.at_entry:
        ctx.reader.forbid(raw, ctx.path, "within", _ONLY_INSIDE.format(key="within"))
        return None
    return ctx.reader.get_duration(raw, ctx.path, "within", required=False)


WITHIN_FIELD = field_spec(
    "within", "duration", False, "How long to wait for it (empty: no limit)", where="inside"
)
