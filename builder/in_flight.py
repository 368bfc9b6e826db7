"""Users in flight when a new version replaces the live one: what changed, the choice, applying it.

A block of the live version is *unchanged* when the new version has a block with the same
id whose JSON is equal ignoring ``name``; otherwise it is *changed* (same id, other
settings) or *removed*. Users at unchanged blocks always switch to the new version. For
each changed or removed block the marketer picks ``keep`` (finish on the old version,
which still has the block and its paths), ``move`` (to a block of the new version) or
``exit``. So nobody is stranded: every user is at a block of the version they are on.
Everything here runs inside the publishing transaction, with set-based statements.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from builder.models import Journey, JourneyVersion
from engine import in_flight as engine_in_flight
from engine.domain import DefinitionError, json_equal
from engine.models import Enrollment

ACTIONS: tuple[str, ...] = ("keep", "move", "exit")
DEFAULT_ACTION = "keep"


class InFlightInvalid(Exception):
    """The ``in_flight`` choice does not fit the change; ``errors`` have paths like
    ``in_flight.wait.to``."""

    def __init__(self, errors: list[DefinitionError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))

    def as_list(self) -> list[dict[str, str]]:
        return [e.as_dict() for e in self.errors]


@dataclass(frozen=True)
class BlockChange:
    node: str
    change: str  # "changed" or "removed"


@dataclass(frozen=True)
class Diff:
    """How a new definition differs from the live one, block by block (live order)."""

    changes: tuple[BlockChange, ...]
    unchanged: tuple[str, ...]
    added: tuple[str, ...]
    entry_unchanged: bool
    new_blocks: tuple[str, ...]
    new_entry: str | None

    @property
    def changed_nodes(self) -> dict[str, str]:
        return {c.node: c.change for c in self.changes}

    def move_targets(self) -> tuple[str, ...]:
        return tuple(b for b in self.new_blocks if b != self.new_entry)


@dataclass(frozen=True)
class Choice:
    action: str
    to: str | None = None


def blocks_of(raw: Any) -> dict[str, Mapping[str, Any]]:
    """The entry and inside blocks of a raw definition by id, entry first (tolerates junk)."""
    out: dict[str, Mapping[str, Any]] = {}
    if not isinstance(raw, Mapping):
        return out
    entry = raw.get("entry")
    candidates = [entry] + (list(raw["nodes"]) if isinstance(raw.get("nodes"), list) else [])
    for block in candidates:
        if isinstance(block, Mapping) and isinstance(block.get("id"), str):
            out.setdefault(block["id"], block)
    return out


def entry_id_of(raw: Any) -> str | None:
    if isinstance(raw, Mapping) and isinstance(raw.get("entry"), Mapping):
        value = raw["entry"].get("id")
        return value if isinstance(value, str) else None
    return None


def _without_name(block: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k != "name"}


def _same_block(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return json_equal(_without_name(a), _without_name(b))


def diff(old_raw: Any, new_raw: Any) -> Diff:
    old, new = blocks_of(old_raw), blocks_of(new_raw)
    changes: list[BlockChange] = []
    unchanged: list[str] = []
    for node, block in old.items():
        if node not in new:
            changes.append(BlockChange(node, "removed"))
        elif _same_block(block, new[node]):
            unchanged.append(node)
        else:
            changes.append(BlockChange(node, "changed"))
    old_entry, new_entry = entry_id_of(old_raw), entry_id_of(new_raw)
    return Diff(
        changes=tuple(changes),
        unchanged=tuple(unchanged),
        added=tuple(n for n in new if n not in old),
        entry_unchanged=old_entry is not None and old_entry == new_entry and old_entry in unchanged,
        new_blocks=tuple(new),
        new_entry=new_entry,
    )


def options_for(d: Diff) -> list[str]:
    return [a for a in ACTIONS if a != "move" or d.move_targets()]


def parse_choices(raw: Any, d: Diff) -> dict[str, Choice]:
    """The marketer's choice per changed or removed block; raises InFlightInvalid."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InFlightInvalid(
            [DefinitionError("in_flight", "'in_flight' must be an object: block id -> choice")]
        )
    errors: list[DefinitionError] = []
    choices: dict[str, Choice] = {}
    changed = d.changed_nodes
    for node, value in raw.items():
        at = f"in_flight.{node}"
        if node not in changed:
            message = (
                f"Block '{node}' is unchanged; its users move to the new version"
                if node in d.unchanged
                else f"The live version has no block '{node}'"
            )
            errors.append(DefinitionError(at, message))
            continue
        if not isinstance(value, Mapping):
            errors.append(DefinitionError(at, 'A choice is {"action": "keep" | "move" | "exit"}'))
            continue
        action = value.get("action", DEFAULT_ACTION)
        if action not in ACTIONS:
            errors.append(
                DefinitionError(f"{at}.action", "'action' must be one of: keep, move, exit")
            )
            continue
        extra = set(value) - {"action", "to"}
        if extra:
            errors.append(DefinitionError(at, f"Unknown key '{sorted(extra)[0]}'"))
            continue
        to = value.get("to")
        if action != "move":
            if to is not None:
                errors.append(DefinitionError(f"{at}.to", "'to' is only for the move action"))
                continue
            choices[node] = Choice(action)
            continue
        if not isinstance(to, str):
            errors.append(
                DefinitionError(f"{at}.to", "'to' is required: a block of the new version")
            )
        elif to == d.new_entry:
            errors.append(
                DefinitionError(f"{at}.to", "Users in the journey cannot be moved to the entry")
            )
        elif to not in d.new_blocks:
            errors.append(DefinitionError(f"{at}.to", f"The new version has no block '{to[:64]}'"))
        else:
            choices[node] = Choice("move", to)
    if errors:
        raise InFlightInvalid(errors)
    return choices


# -- applying -----------------------------------------------------------------------------


# The engine's step writer, for callers that still name it here.
write_steps = engine_in_flight.steps_leave


def apply(
    *,
    journey: Journey,
    old: JourneyVersion,
    new: JourneyVersion,
    d: Diff,
    choices: Mapping[str, Choice],
    now: datetime,
) -> dict[str, Any]:
    """Apply the choice to users on ``old`` and return the record kept in ``new.in_flight``."""
    # The builder decides; the engine (its in-flight services) writes enrollments and steps.
    record: dict[str, Any] = {
        "from_version": old.number,
        "to_version": new.number,
        "at": now.isoformat().replace("+00:00", "Z"),
        "nodes": {},
    }
    for change in d.changes:
        choice = choices.get(change.node, Choice(DEFAULT_ACTION))
        entry: dict[str, Any] = {"change": change.change, "action": choice.action}
        if choice.action == "move":
            assert choice.to is not None
            entry["to"] = choice.to
            entry["users"] = engine_in_flight.enrollments_move(
                journey_id=journey.pk,
                version_id=old.pk,
                node=change.node,
                to_version_id=new.pk,
                to_version_number=new.number,
                to=choice.to,
                now=now,
            )
        elif choice.action == "exit":
            entry["users"] = engine_in_flight.enrollments_exit(
                journey_id=journey.pk,
                version_id=old.pk,
                node=change.node,
                reason=Enrollment.ExitReason.REMOVED.value,
                now=now,
            )
        else:
            entry["users"] = engine_in_flight.enrollments_at(
                journey_id=journey.pk, version_id=old.pk, node=change.node
            )
        record["nodes"][change.node] = entry
    switched = engine_in_flight.enrollments_switch(
        journey_id=journey.pk, version_id=old.pk, to_version_id=new.pk, nodes=list(d.unchanged)
    )
    record["unchanged"] = {"nodes": list(d.unchanged), "users": switched}
    if d.entry_unchanged:
        n = engine_in_flight.candidates_switch(
            journey_id=journey.pk, version_id=old.pk, to_version_id=new.pk
        )
        record["candidates"] = {"action": "switch", "users": n}
    else:
        n = engine_in_flight.candidates_cancel(journey_id=journey.pk, version_id=old.pk, now=now)
        record["candidates"] = {"action": "cancel", "users": n}
    return record
