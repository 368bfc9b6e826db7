"""The Split kind: named branches by percentage, a stable assignment, an optional holdout."""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import pytest

from engine.domain import block_type, palette, parse_definition
from engine.domain.kinds.split import SplitBlock, assign

from .examples import ENTRY_BLOCKS
from .helpers import error_paths, inside


def split(*branches: dict[str, Any]) -> dict[str, Any]:
    return {"id": "ab", "type": "split", "branches": list(branches)}


def with_edges(node: dict[str, Any], *edges: dict[str, Any]) -> dict[str, Any]:
    raw = inside(node)
    raw["nodes"] += [
        {"id": "a", "type": "sms", "body": "A"},
        {"id": "b", "type": "sms", "body": "B"},
    ]
    raw["edges"] += list(edges)
    return raw


AB = split({"name": "A", "percent": 60}, {"name": "B", "percent": 40})


def test_edges_leave_the_named_branches_of_a_split() -> None:
    raw = with_edges(
        AB, {"from": "ab", "to": "a", "branch": "A"}, {"from": "ab", "to": "b", "branch": "B"}
    )
    definition = parse_definition(raw)
    assert definition.branches("ab") == ("A", "B")
    assert definition.next_node("ab", "A") == "a"
    assert definition.next_node("ab", "B") == "b"


@pytest.mark.parametrize(
    ("edge", "path"),
    [
        ({"from": "ab", "to": "a"}, "edges[1].branch"),
        ({"from": "ab", "to": "a", "branch": "yes"}, "edges[1].branch"),
        ({"from": "ab", "to": "a", "branch": "C"}, "edges[1].branch"),
    ],
)
def test_an_edge_out_of_a_split_names_one_of_its_branches(edge: dict[str, Any], path: str) -> None:
    # Block b is left unreachable by these definitions.
    assert error_paths(with_edges(AB, edge)) == [path, "nodes[2]"]


@pytest.mark.parametrize(
    ("branches", "path"),
    [
        ([{"name": "A", "percent": 100}], "nodes[0].branches"),
        ([{"name": f"b{i}", "percent": 10} for i in range(6)], "nodes[0].branches"),
        ([{"name": "A", "percent": 50}, {"name": "B", "percent": 40}], "nodes[0].branches"),
        ([{"name": "A", "percent": 50}, {"name": "A", "percent": 50}], "nodes[0].branches[1].name"),
        (
            [{"name": "A", "percent": 0}, {"name": "B", "percent": 100}],
            "nodes[0].branches[0].percent",
        ),
        (
            [{"name": "A b", "percent": 50}, {"name": "B", "percent": 50}],
            "nodes[0].branches[0].name",
        ),
        ([{"name": "A", "percent": 50}, {"percent": 50}], "nodes[0].branches[1].name"),
        (
            [{"name": "A", "percent": 50}, {"name": "B", "percent": 50, "holdout": "yes"}],
            "nodes[0].branches[1].holdout",
        ),
        (
            [
                {"name": "A", "percent": 50, "holdout": True},
                {"name": "B", "percent": 50, "holdout": True},
            ],
            "nodes[0].branches",
        ),
        ("A/B", "nodes[0].branches"),
    ],
)
def test_bad_branches_are_reported_where_they_are(branches: Any, path: str) -> None:
    assert error_paths(inside({"id": "ab", "type": "split", "branches": branches})) == [path]


def test_a_holdout_branch_cannot_lead_to_a_block() -> None:
    node = split({"name": "A", "percent": 90}, {"name": "control", "percent": 10, "holdout": True})
    raw = with_edges(node, {"from": "ab", "to": "a", "branch": "control"})
    assert error_paths(raw) == ["edges[1].branch", "nodes[2]"]


def test_a_split_cannot_be_the_entry() -> None:
    raw = {"entry": {**AB, "id": "entry"}}
    assert error_paths(raw) == ["entry.type"]


def _block(*branches: tuple[str, int]) -> SplitBlock:
    raw = inside(split(*({"name": n, "percent": p} for n, p in branches)))
    block = parse_definition(raw).nodes["ab"]
    assert isinstance(block, SplitBlock)
    return block


def test_the_same_user_always_gets_the_same_branch() -> None:
    block = _block(("A", 50), ("B", 50))
    first = [assign(block, 7, profile)[0] for profile in range(200)]
    again = [assign(copy.deepcopy(block), 7, profile)[0] for profile in range(200)]
    assert first == again
    # Another journey (or block) shuffles users independently.
    assert first != [assign(block, 8, profile)[0] for profile in range(200)]


def test_users_are_divided_close_to_the_percentages() -> None:
    block = _block(("A", 70), ("B", 20), ("C", 10))
    counts = Counter(assign(block, 1, profile)[0] for profile in range(20000))
    assert abs(counts["A"] / 20000 - 0.70) < 0.02
    assert abs(counts["B"] / 20000 - 0.20) < 0.02
    assert abs(counts["C"] / 20000 - 0.10) < 0.02


def test_the_step_detail_names_the_branch_and_the_holdout() -> None:
    raw = inside(
        split({"name": "A", "percent": 99}, {"name": "hold", "percent": 1, "holdout": True})
    )
    block = parse_definition(raw).nodes["ab"]
    branch, detail = assign(block, 1, 1)
    assert detail == {"split": branch, "bucket": detail["bucket"], "holdout": branch == "hold"}
    assert 0 <= detail["bucket"] < 100


def test_the_palette_says_the_branches_come_from_the_branches_field() -> None:
    entry = next(d for d in json.loads(json.dumps(palette())) if d["type"] == "split")
    assert (entry["label"], entry["category"], entry["entry"], entry["inside"]) == (
        "Split",
        "flow",
        False,
        True,
    )
    assert entry["branches"] == []
    assert entry["branches_from"] == "branches"
    assert [(f["name"], f["kind"], f["required"]) for f in entry["fields"]] == [
        ("branches", "branches", True)
    ]
    kind = block_type("split")
    assert kind is not None
    assert kind.decide is not None


def test_other_kinds_keep_their_palette_shape() -> None:
    action = next(d for d in palette() if d["type"] == "action")
    assert "branches_from" not in action
    assert action["branches"] == ["yes", "no"]
    assert ENTRY_BLOCKS["action"]["type"] == "action"
