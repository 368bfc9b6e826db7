"""Every block kind is reached through the registry: engine handlers, no isinstance chains."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from engine.blocks import Handler, handler
from engine.domain import REGISTRY

ROOT = Path(__file__).resolve().parents[3]
BLOCK_MODULES = ("engine/blocks/", "engine/domain/kinds/")
CONCRETE = {
    name for name in dir(__import__("engine.domain", fromlist=["*"])) if name.endswith("Block")
}
CONCRETE.discard("Block")


def _overrides(kind_handler: Handler, name: str) -> bool:
    return getattr(type(kind_handler), name) is not getattr(Handler, name)


@pytest.mark.parametrize("type_", [t.type for t in REGISTRY.values() if t.inside])
def test_every_inside_kind_has_an_arrival_in_the_engine(type_: str) -> None:
    kind_handler = handler(type_)
    assert _overrides(kind_handler, "settle") or _overrides(kind_handler, "arrive"), type_


@pytest.mark.parametrize("type_", [t.type for t in REGISTRY.values() if t.entry])
def test_every_entry_kind_files_itself_in_the_trigger_index(type_: str) -> None:
    assert _overrides(handler(type_), "index_entry"), type_


def test_no_isinstance_on_a_concrete_block_outside_the_block_modules() -> None:
    found = []
    for package in ("engine", "builder", "stats", "journeys_site"):
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(BLOCK_MODULES) or "/migrations/" in rel:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not (
                    isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance"
                ):
                    continue
                names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                names |= {n.attr for n in ast.walk(node.args[1]) if isinstance(n, ast.Attribute)}
                if names & CONCRETE:
                    found.append(f"{rel}:{node.lineno}")
    assert found == []
