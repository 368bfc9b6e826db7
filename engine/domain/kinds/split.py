"""The Split kind (inside only): users divided between up to 5 named branches by percentage.

Each user's branch is a stable hash of (journey, block, profile), so a re-entry or a
retried batch lands on the same branch. A ``holdout`` branch leads nowhere: its users
stay out of the messages that follow, and still count for the goal (to measure lift).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..blocks import Block, BlockHeader
from ..fields import ID_PATTERN, BlockContext, join
from .base import BlockType, field_spec

MIN_BRANCHES = 2
MAX_BRANCHES = 5
BUCKETS = 100  # percentages are whole numbers


@dataclass(frozen=True)
class SplitBranch:
    """One branch: its name (what edges and stats use), its share, whether it holds users out."""

    name: str
    percent: int
    holdout: bool = False


@dataclass(frozen=True)
class SplitBlock(Block):
    """Sends each user down one of ``branches`` (percentages summing to 100)."""

    branches: tuple[SplitBranch, ...]


def _branch(raw: Any, at: str, ctx: BlockContext, seen: set[str]) -> SplitBranch | None:
    r = ctx.reader
    if not isinstance(raw, Mapping):
        r.error(at, "A branch is an object with a 'name' and a 'percent'")
        return None
    before = len(r.errors)
    name = raw.get("name")
    if not isinstance(name, str) or not ID_PATTERN.match(name):
        r.error(join(at, "name"), "Branch names are 1 to 64 letters, digits, '_' or '-'")
        name = None
    elif name in seen:
        r.error(join(at, "name"), f"Branch '{name}' is already used in this split")
        name = None
    else:
        seen.add(name)
    percent = r.get_int(raw, at, "percent", minimum=1, maximum=100)
    holdout = r.get_bool(raw, at, "holdout", default=False)
    if name is None or percent is None or holdout is None or len(r.errors) > before:
        return None
    return SplitBranch(name, percent, holdout)


def parse_split(raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader) -> Block | None:
    items = raw.get("branches")
    at = ctx.at("branches")
    if not isinstance(items, list | tuple) or not MIN_BRANCHES <= len(items) <= MAX_BRANCHES:
        ctx.error(
            "branches",
            f"'branches' is a list of {MIN_BRANCHES} to {MAX_BRANCHES} branches, "
            'each {"name", "percent"}',
        )
        return None
    seen: set[str] = set()
    parsed = [_branch(item, join(at, i), ctx, seen) for i, item in enumerate(items)]
    branches = tuple(b for b in parsed if b is not None)
    if len(branches) != len(parsed):
        return None
    total = sum(b.percent for b in branches)
    if total != 100:
        ctx.error("branches", f"The percentages add up to {total}; they must add up to 100")
        return None
    if sum(b.holdout for b in branches) > 1:
        ctx.error("branches", "At most one branch is the holdout")
        return None
    return SplitBlock(head.id, head.type, branches, name=head.name)


def bucket(journey_id: int, block_id: str, profile_id: int) -> int:
    """A stable number in [0, 100) for this user at this block of this journey."""
    digest = hashlib.sha256(f"{journey_id}:{block_id}:{profile_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def assign(block: SplitBlock, journey_id: int, profile_id: int) -> tuple[str, dict[str, Any]]:
    """The branch of one user, and what the step log records about it."""
    number = bucket(journey_id, block.id, profile_id)
    upper = 0
    for branch in block.branches:
        upper += branch.percent
        if number < upper:
            break
    return branch.name, {"split": branch.name, "bucket": number, "holdout": branch.holdout}


KIND = BlockType(
    "split",
    "Split",
    "flow",
    False,
    True,
    parse_split,
    (
        field_spec(
            "branches",
            "branches",
            True,
            f"{MIN_BRANCHES} to {MAX_BRANCHES} branches, each a name and a whole percentage "
            "(together 100); one may be the holdout, whose users get none of what follows",
        ),
    ),
    "Divide users between branches by percentage (A/B test, holdout)",
    branches_of=lambda block: tuple(b.name for b in block.branches),
    branches_field="branches",
    terminal_branches_of=lambda block: tuple(b.name for b in block.branches if b.holdout),
    decide=assign,
)
