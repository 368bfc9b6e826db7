"""Graph rules: edges, branches, cycles, reachability; and the Definition's navigation helpers."""

import pytest

from engine.domain import parse_definition, validate

from .examples import contract_example
from .helpers import error_paths


def _graph(edges, nodes=None, goals=None):
    return {
        "entry": {"id": "entry", "type": "action", "event": "Added To Cart"},
        "nodes": nodes
        if nodes is not None
        else [
            {"id": "seg", "type": "action", "event": "Opened", "within": "PT1H"},
            {"id": "a", "type": "sms", "body": "a"},
            {"id": "b", "type": "sms", "body": "b"},
            {"id": "wait", "type": "delay", "duration": 60},
        ],
        "edges": edges,
        "goals": goals or [{"id": "goal", "type": "action", "event": "Charged"}],
    }


OK = [
    {"from": "entry", "to": "seg"},
    {"from": "seg", "to": "a", "branch": "yes"},
    {"from": "seg", "to": "wait", "branch": "no"},
    {"from": "wait", "to": "b"},
]


def _edges(*changes):
    edges = [dict(e) for e in OK]
    for index, edge in changes:
        if edge is None:
            edges.pop(index)
        elif index >= len(edges):
            edges.append(edge)
        else:
            edges[index] = edge
    return edges


@pytest.mark.parametrize(
    ("name", "edges", "expected"),
    [
        ("valid", OK, []),
        (
            "explicit yes out of entry",
            _edges((0, {"from": "entry", "to": "seg", "branch": "yes"})),
            [],
        ),
        (
            "no out of entry",
            _edges((0, {"from": "entry", "to": "seg", "branch": "no"})),
            ["edges[0].branch"],
        ),
        ("unknown target", _edges((3, {"from": "wait", "to": "c"})), ["edges[3].to", "nodes[2]"]),
        ("unknown source", _edges((4, {"from": "zzz", "to": "b"})), ["edges[4].from"]),
        ("edge into entry", _edges((4, {"from": "b", "to": "entry"})), ["edges[4].to"]),
        ("edge from goal", _edges((4, {"from": "goal", "to": "b"})), ["edges[4].from"]),
        ("edge to goal", _edges((4, {"from": "b", "to": "goal"})), ["edges[4].to"]),
        ("segment without branch", _edges((1, {"from": "seg", "to": "a"})), ["edges[1].branch"]),
        (
            "segment bad branch",
            _edges((1, {"from": "seg", "to": "a", "branch": "maybe"})),
            ["edges[1].branch"],
        ),
        (
            "segment branch not text",
            _edges((1, {"from": "seg", "to": "a", "branch": True})),
            ["edges[1].branch"],
        ),
        (
            "delay with branch",
            _edges((3, {"from": "wait", "to": "b", "branch": "yes"})),
            ["edges[3].branch"],
        ),
        (
            "message with branch",
            _edges((4, {"from": "a", "to": "b", "branch": "no"})),
            ["edges[4].branch"],
        ),
        ("two yes paths", _edges((4, {"from": "seg", "to": "b", "branch": "yes"})), ["edges[4]"]),
        ("delay with two next blocks", _edges((4, {"from": "wait", "to": "a"})), ["edges[4]"]),
        (
            "message with two next blocks",
            _edges((4, {"from": "a", "to": "b"}), (5, {"from": "a", "to": "wait"})),
            ["edges[5]"],
        ),
        ("duplicate edge", _edges((4, {"from": "wait", "to": "b"})), ["edges[4]"]),
        ("self loop", _edges((4, {"from": "b", "to": "b"})), ["edges[4]"]),
        ("cycle", _edges((4, {"from": "b", "to": "seg"})), ["edges[4]"]),
        ("unreachable node", _edges((3, None)), ["nodes[2]"]),
        ("edge not object", _edges((4, "a->b")), ["edges[4]"]),
        ("edge from missing", _edges((4, {"to": "b"})), ["edges[4].from"]),
        (
            "edge ids not text",
            _edges((4, {"from": 1, "to": ["b"]})),
            ["edges[4].from", "edges[4].to"],
        ),
        ("edges not a list", {"a": "b"}, ["edges", "nodes[0]", "nodes[1]", "nodes[2]", "nodes[3]"]),
    ],
)
def test_graph_rules(name, edges, expected):
    assert error_paths(_graph(edges)) == expected


def test_cycle_message_names_the_loop():
    raw = _graph(_edges((3, {"from": "wait", "to": "b"}), (4, {"from": "b", "to": "seg"})))
    [error] = validate(raw)
    assert error.path == "edges[4]"
    assert "seg -> wait -> b -> seg" in error.message


def test_longer_cycle_not_through_the_entry_is_reported():
    nodes = [
        {"id": "a", "type": "sms", "body": "a"},
        {"id": "b", "type": "sms", "body": "b"},
        {"id": "c", "type": "sms", "body": "c"},
    ]
    edges = [
        {"from": "entry", "to": "a"},
        {"from": "a", "to": "b"},
        {"from": "b", "to": "c"},
        {"from": "c", "to": "a"},
    ]
    assert error_paths(_graph(edges, nodes=nodes)) == ["edges[3]"]


def test_unreachable_message_is_readable():
    raw = contract_example()
    raw["edges"].pop(1)
    errors = validate(raw)
    assert [e.path for e in errors] == ["nodes[1]", "nodes[2]", "nodes[3]"]
    assert errors[0].message == "Block 'push1' is not reachable from the entry"


def test_duplicate_ids_across_entry_nodes_and_goals():
    raw = contract_example()
    raw["nodes"][1]["id"] = "wait"
    raw["goals"][0]["id"] = "entry"
    paths = error_paths(raw)
    assert "nodes[1].id" in paths
    assert "goals[0].id" in paths


def test_nodes_must_be_a_list_of_objects():
    raw = contract_example()
    raw["nodes"] = {"wait": {}}
    assert error_paths(raw)[0] == "nodes"
    raw = contract_example()
    raw["nodes"].append("push2")
    assert error_paths(raw) == ["nodes[4]"]


def test_navigation_helpers():
    d = parse_definition(_graph(OK))
    assert d.block_ids() == ("entry", "seg", "a", "b", "wait")
    assert d.node("entry").type == "action"
    assert d.node("wait").type == "delay"
    with pytest.raises(KeyError):
        d.node("nope")
    assert d.is_segment("entry")
    assert d.is_segment("seg")
    assert not d.is_segment("wait")
    assert d.next_node("entry", "yes") == "seg"
    assert d.next_node("seg", "yes") == "a"
    assert d.next_node("seg", "no") == "wait"
    assert d.next_node("wait", None) == "b"
    assert d.next_node("a", None) is None
    assert d.is_path_end("a")
    assert not d.is_path_end("seg", "no")
    assert [e.target for e in d.outgoing("seg")] == ["a", "wait"]
    assert d.outgoing("b") == ()
    assert d.last_blocks() == ("a", "b")
    assert d.goal("goal").event == "Charged"  # type: ignore[union-attr]


def test_segment_with_one_missing_branch_is_a_path_end():
    d = parse_definition(contract_example())
    assert d.last_blocks() == ("paid", "mail")
    assert d.is_path_end("paid", "yes")
    assert not d.is_path_end("paid", "no")


def test_entry_only_definition_is_valid():
    d = parse_definition({"entry": {"id": "e", "type": "action", "event": "x"}})
    assert d.nodes == {}
    assert d.last_blocks() == ("e",)
