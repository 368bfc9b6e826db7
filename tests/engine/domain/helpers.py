"""Small builders for definition tests."""

from __future__ import annotations

import copy
from typing import Any

from engine.domain import DefinitionError, validate

from .examples import ENTRY_BLOCKS


def inside(node: dict[str, Any]) -> dict[str, Any]:
    """A definition with an action entry leading to ``node``."""
    return {
        "entry": copy.deepcopy(ENTRY_BLOCKS["action"]),
        "nodes": [node],
        "edges": [{"from": "entry", "to": node.get("id") if isinstance(node, dict) else "x"}],
    }


def at_entry(entry: Any) -> dict[str, Any]:
    return {"entry": entry}


def paths(errors: list[DefinitionError]) -> list[str]:
    return [e.path for e in errors]


def error_paths(raw: Any, **kwargs: Any) -> list[str]:
    return paths(validate(raw, **kwargs))
