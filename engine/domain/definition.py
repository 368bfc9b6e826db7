"""The journey definition: Settings, Edge and Definition, parsed and validated from raw JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .blocks import Block, BlockHeader, Goal, parse_goal
from .errors import DefinitionError, DefinitionInvalid
from .fields import ID_PATTERN, BlockContext, Reader, ValidationContext, join
from .registry import REGISTRY, block_type, kind_of

__all__ = [
    "MAX_GOALS",
    "Definition",
    "Edge",
    "Settings",
    "ValidationContext",
    "parse_definition",
    "validate",
]

MAX_GOALS = 3
MAX_NODES = 500
MAX_EDGES = 2000
GOAL_TYPES: tuple[str, ...] = ("action", "past_behaviour")


@dataclass(frozen=True)
class Settings:
    """Journey-wide settings; ``conversion_time`` in seconds, times in UTC."""

    conversion_time: int | None = None
    allow_reentry: bool = False
    start_at: datetime | None = None
    end_at: datetime | None = None


@dataclass(frozen=True)
class Edge:
    """``{"from", "to", "branch"}``: the named branch of its source block that it leaves
    (``yes``/``no`` out of a segment block, a name the block gives itself for kinds with
    named branches), else None.

    Edges out of the entry always have ``branch="yes"`` (implicit in the JSON).
    """

    source: str
    target: str
    branch: str | None = None


@dataclass(frozen=True)
class Definition:
    """A valid journey definition. ``nodes`` holds the inside blocks in definition order."""

    settings: Settings
    entry: Block
    nodes: Mapping[str, Block]
    edges: tuple[Edge, ...] = ()
    goals: tuple[Goal, ...] = ()
    _next: Mapping[tuple[str, str | None], str] = field(init=False, repr=False, compare=False)
    _out: Mapping[str, tuple[Edge, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        nxt: dict[tuple[str, str | None], str] = {}
        out: dict[str, list[Edge]] = {}
        for edge in self.edges:
            nxt[(edge.source, edge.branch)] = edge.target
            out.setdefault(edge.source, []).append(edge)
        object.__setattr__(self, "_next", nxt)
        object.__setattr__(self, "_out", {k: tuple(v) for k, v in out.items()})

    def node(self, id: str) -> Block:
        """The entry or inside block with this id (KeyError if none)."""
        if id == self.entry.id:
            return self.entry
        return self.nodes[id]

    def block_ids(self) -> tuple[str, ...]:
        """The entry's id, then every inside block's id in definition order."""
        return (self.entry.id, *self.nodes)

    def goal(self, id: str) -> Goal:
        for goal in self.goals:
            if goal.id == id:
                return goal
        raise KeyError(id)

    def is_segment(self, id: str) -> bool:
        bt = block_type(self.node(id).type)
        return bt is not None and bt.category == "segment"

    def outgoing(self, from_id: str) -> tuple[Edge, ...]:
        return self._out.get(from_id, ())

    def next_node(self, from_id: str, branch: str | None = None) -> str | None:
        """The block after ``from_id`` on ``branch`` (None for engage/delay blocks), or None at a path end."""
        return self._next.get((from_id, branch))

    def branches(self, id: str) -> tuple[str | None, ...]:
        """The ways out of a block: ``("yes",)`` for the entry, its kind's branches inside
        (``("yes", "no")`` for a segment block), ``(None,)`` for one way out."""
        if id == self.entry.id:
            return ("yes",)
        return kind_of(self.node(id)).block_branches(self.node(id)) or (None,)

    def is_path_end(self, id: str, branch: str | None = None) -> bool:
        """Whether a user leaving ``id`` on ``branch`` has no next block (the path ends there)."""
        return self.next_node(id, branch) is None

    def last_blocks(self) -> tuple[str, ...]:
        """Ids of blocks where at least one path ends, in definition order."""
        return tuple(
            i for i in self.block_ids() if any(self.is_path_end(i, br) for br in self.branches(i))
        )


def _settings(r: Reader, raw: Any) -> Settings | None:
    if raw is None:
        return Settings()
    if not isinstance(raw, Mapping):
        r.error("settings", "'settings' must be an object")
        return None
    before = len(r.errors)
    conversion = r.get_duration(raw, "settings", "conversion_time", required=False)
    reentry = r.get_bool(raw, "settings", "allow_reentry", default=False)
    start = r.get_datetime(raw, "settings", "start_at")
    end = r.get_datetime(raw, "settings", "end_at")
    if start is not None and end is not None and end <= start:
        r.error("settings.end_at", "'end_at' must be after 'start_at'")
    if len(r.errors) > before or reentry is None:
        return None
    return Settings(conversion, reentry, start, end)


class _Parser:
    def __init__(self, context: ValidationContext | None) -> None:
        self.r = Reader()
        self.context = context
        self.ids: dict[str, str] = {}  # id -> path of what owns it
        self.categories: dict[str, str] = {}  # block id -> category (when its type is known)
        self.parsed: dict[str, Block] = {}  # block id -> parsed block (when it is valid)
        self.named_branches: set[str] = set()  # blocks whose kind names branches in its data
        self.links: list[tuple[int, Edge]] = []

    def claim_id(self, raw: Mapping[str, Any], path: str) -> str | None:
        value = raw.get("id")
        at = join(path, "id")
        if value is None:
            self.r.error(at, "'id' is required")
            return None
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            self.r.error(at, "Ids are 1 to 64 letters, digits, '_' or '-'")
            return None
        if value in self.ids:
            self.r.error(at, f"Id '{value}' is already used by {self.ids[value]}")
            return None
        self.ids[value] = path
        return value

    def name(self, raw: Mapping[str, Any], path: str) -> str | None:
        value = raw.get("name")
        if value is not None and (not isinstance(value, str) or len(value) > 200):
            self.r.error(join(path, "name"), "'name' must be text of at most 200 characters")
            return None
        return value

    def block(self, raw: Any, path: str, *, at_entry: bool) -> tuple[str | None, Block | None]:
        r = self.r
        if not isinstance(raw, Mapping):
            r.error(path, "A block must be an object with an id and a type")
            return None, None
        before = len(r.errors)
        block_id = self.claim_id(raw, path)
        name = self.name(raw, path)
        type_ = raw.get("type")
        bt = block_type(type_) if isinstance(type_, str) else None
        if bt is None:
            if type_ is None:
                r.error(
                    join(path, "type"), f"'type' is required; use one of: {', '.join(REGISTRY)}"
                )
            else:
                shown = type_ if isinstance(type_, str) else repr(type_)
                r.error(
                    join(path, "type"),
                    f"Unknown block type '{shown[:40]}'; use one of: {', '.join(REGISTRY)}",
                )
            return block_id, None
        if block_id is not None:
            self.categories[block_id] = bt.category
            if bt.branches_of is not None:
                self.named_branches.add(block_id)
        if at_entry and not bt.entry:
            segments = ", ".join(t.type for t in REGISTRY.values() if t.entry)
            r.error(
                join(path, "type"),
                f"A '{bt.type}' block cannot be the entry; the entry is a segment block ({segments})",
            )
            return block_id, None
        if not at_entry and not bt.inside:
            r.error(join(path, "type"), f"A '{bt.type}' block can only be the journey's entry")
            return block_id, None
        ctx = BlockContext(path, at_entry, r, self.context)
        head = BlockHeader(block_id or "", bt.type, name)
        block = bt.parse(raw, ctx, head)
        if len(r.errors) > before:
            return block_id, None
        if block_id is not None and block is not None:
            self.parsed[block_id] = block
        return block_id, block

    def branch_names(self, source: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """The branches of a block and those that must end the path; None when unknown
        (its type or its own fields were invalid, already reported)."""
        block = self.parsed.get(source)
        if block is None:
            category = self.categories.get(source)
            return (("yes", "no"), ()) if category == "segment" else None
        bt = kind_of(block)
        return bt.block_branches(block), bt.terminal_branches(block)

    def goals(self, raw: Any) -> tuple[Goal, ...] | None:
        r = self.r
        if raw is None:
            return ()
        if not isinstance(raw, list | tuple):
            r.error("goals", "'goals' must be a list")
            return None
        if len(raw) > MAX_GOALS:
            r.error("goals", f"A journey has at most {MAX_GOALS} goals")
        out: list[Goal] = []
        ok = True
        for i, item in enumerate(raw[: MAX_GOALS * 10]):
            path = f"goals[{i}]"
            if not isinstance(item, Mapping):
                r.error(path, "A goal must be an object with an id and a type")
                ok = False
                continue
            before = len(r.errors)
            goal_id = self.claim_id(item, path)
            name = self.name(item, path)
            kind = r.get_choice(item, path, "type", GOAL_TYPES, default=None)
            if kind is None or goal_id is None:
                ok = False
                continue
            goal = parse_goal(r, item, path, goal_id, name)
            if goal is None or len(r.errors) > before:
                ok = False
                continue
            out.append(goal)
        return tuple(out) if ok else None

    def edges(self, raw: Any, entry_id: str | None) -> list[tuple[int, Edge]]:
        """The valid edges; ``self.links`` also gets every edge whose two ends exist, so a
        bad branch or a duplicate does not also make its target unreachable."""
        r = self.r
        if raw is None:
            return []
        if not isinstance(raw, list | tuple):
            r.error("edges", "'edges' must be a list")
            return []
        if len(raw) > MAX_EDGES:
            r.error("edges", f"A journey has at most {MAX_EDGES} edges")
            return []
        seen: dict[tuple[str, str | None], str] = {}
        out: list[tuple[int, Edge]] = []
        for i, item in enumerate(raw):
            path = f"edges[{i}]"
            if not isinstance(item, Mapping):
                r.error(path, "An edge must be an object with 'from' and 'to'")
                continue
            before = len(r.errors)
            ends: list[str | None] = []
            for key in ("from", "to"):
                value = item.get(key)
                at = join(path, key)
                if not isinstance(value, str):
                    r.error(at, f"'{key}' must be a block id")
                    ends.append(None)
                elif value not in self.ids:
                    r.error(at, f"Unknown block '{value[:64]}'")
                    ends.append(None)
                elif self.ids[value].startswith("goals"):
                    r.error(at, f"'{value}' is a goal; goals take no edges")
                    ends.append(None)
                else:
                    ends.append(value)
            source, target = ends
            if source is not None and target is not None and source != target != entry_id:
                self.links.append((i, Edge(source, target, None)))
            if target is not None and target == entry_id:
                r.error(join(path, "to"), f"Nothing can lead to the entry block '{entry_id}'")
            branch = item.get("branch")
            category = self.categories.get(source) if source is not None else None
            if source is not None and source == entry_id:
                # Users who do not qualify never enter, so the entry has one way out: "yes"
                # (the contract's example leaves it implicit).
                if branch is None:
                    branch = "yes"
                elif branch != "yes":
                    shown = branch if isinstance(branch, str) else repr(branch)
                    r.error(
                        join(path, "branch"),
                        f"The entry has no '{shown[:40]}' path: users who do not qualify never "
                        "enter; leave the branch out or use yes",
                    )
            elif source is not None and (names := self.branch_names(source)) and names[0]:
                choices, terminal = names
                if branch is None:
                    r.error(
                        join(path, "branch"),
                        f"An edge out of {category} block '{source}' needs a branch: "
                        f"{' or '.join(choices)}",
                    )
                elif branch not in choices:
                    shown = branch if isinstance(branch, str) else repr(branch)
                    r.error(
                        join(path, "branch"),
                        f"Unknown branch '{shown[:40]}'; use {' or '.join(choices)}",
                    )
                elif branch in terminal:
                    r.error(
                        join(path, "branch"),
                        f"Branch '{branch}' of '{source}' is a holdout: its users stay out of "
                        "what follows, so it cannot lead to a block",
                    )
            elif category is not None and branch is not None and source in self.named_branches:
                pass  # the source block is invalid (reported); its branches are unknown
            elif category is not None and branch is not None:
                r.error(
                    join(path, "branch"),
                    f"Only edges out of segment blocks have a branch; '{source}' is a {category} block",
                )
            if source is not None and source == target:
                r.error(path, f"Block '{source}' cannot lead to itself")
            if len(r.errors) > before or source is None or target is None or category is None:
                continue
            slot = (source, branch if isinstance(branch, str) else None)
            if slot in seen:
                if seen[slot] == target:
                    r.error(path, f"Duplicate edge from '{source}' to '{target}'")
                elif slot[1] is not None:
                    r.error(
                        path, f"Block '{source}' already has a '{slot[1]}' path (to '{seen[slot]}')"
                    )
                else:
                    r.error(
                        path,
                        f"Block '{source}' already leads to '{seen[slot]}'; "
                        "message and delay blocks have one next block at most",
                    )
                continue
            seen[slot] = target
            out.append((i, Edge(source, target, slot[1])))
        return out

    def graph(self, entry_id: str | None, node_paths: dict[str, str]) -> None:
        adjacency: dict[str, list[tuple[int, Edge]]] = {}
        for i, edge in self.links:
            adjacency.setdefault(edge.source, []).append((i, edge))
        # Iterative DFS: report each edge that closes a cycle.
        white, grey, black = 0, 1, 2
        color: dict[str, int] = {}
        roots = ([entry_id] if entry_id else []) + list(node_paths)
        for root in roots:
            if color.get(root, white) != white:
                continue
            color[root] = grey
            stack: list[tuple[str, int]] = [(root, 0)]
            trail: list[str] = [root]
            while stack:
                current, index = stack[-1]
                out = adjacency.get(current, [])
                if index >= len(out):
                    stack.pop()
                    trail.pop()
                    color[current] = black
                    continue
                stack[-1] = (current, index + 1)
                i, edge = out[index]
                state = color.get(edge.target, white)
                if state == grey:
                    loop = [*trail[trail.index(edge.target) :], edge.target]
                    self.r.error(
                        f"edges[{i}]",
                        f"These edges form a loop: {' -> '.join(loop)}; a journey cannot go back to an earlier block",
                    )
                elif state == white:
                    color[edge.target] = grey
                    stack.append((edge.target, 0))
                    trail.append(edge.target)
        if entry_id is None:
            return
        reached = {entry_id}
        todo = [entry_id]
        while todo:
            for _, edge in adjacency.get(todo.pop(), []):
                if edge.target not in reached:
                    reached.add(edge.target)
                    todo.append(edge.target)
        for node_id, path in node_paths.items():
            if node_id not in reached:
                self.r.error(path, f"Block '{node_id}' is not reachable from the entry")

    def parse(self, raw: Any) -> Definition | None:
        r = self.r
        if not isinstance(raw, Mapping):
            r.error("", "A journey definition must be a JSON object")
            return None
        settings = _settings(r, raw.get("settings"))
        layout = raw.get("layout")
        if layout is not None and not isinstance(layout, Mapping):
            r.error("layout", "'layout' must be an object")
        entry_raw = raw.get("entry")
        entry_id: str | None = None
        entry: Block | None = None
        if entry_raw is None:
            r.error("entry", "A journey needs an entry block (a segment block saying who enters)")
        else:
            entry_id, entry = self.block(entry_raw, "entry", at_entry=True)
        nodes_raw = raw.get("nodes")
        nodes: dict[str, Block] = {}
        node_paths: dict[str, str] = {}
        if nodes_raw is not None and not isinstance(nodes_raw, list | tuple):
            r.error("nodes", "'nodes' must be a list of blocks")
        elif nodes_raw is not None and len(nodes_raw) > MAX_NODES:
            r.error("nodes", f"A journey has at most {MAX_NODES} blocks")
        elif nodes_raw is not None:
            for i, item in enumerate(nodes_raw):
                node_id, block = self.block(item, f"nodes[{i}]", at_entry=False)
                if node_id is not None:
                    node_paths[node_id] = f"nodes[{i}]"
                if node_id is not None and block is not None:
                    nodes[node_id] = block
        goals = self.goals(raw.get("goals"))
        edges = self.edges(raw.get("edges"), entry_id)
        self.graph(entry_id, node_paths)
        if r.errors or settings is None or entry is None or goals is None:
            return None
        return Definition(settings, entry, nodes, tuple(e for _, e in edges), goals)


def _run(
    raw: Any, context: ValidationContext | None
) -> tuple[Definition | None, list[DefinitionError]]:
    parser = _Parser(context)
    try:
        definition = parser.parse(raw)
    except RecursionError:
        parser.r.error("", "The definition is nested too deeply")
        definition = None
    errors = list(dict.fromkeys(parser.r.errors))
    if errors:
        return None, errors
    if definition is None:  # pragma: no cover - every failure records an error
        return None, [DefinitionError("", "Invalid journey definition")]
    return definition, []


def validate(raw: Any, *, context: ValidationContext | None = None) -> list[DefinitionError]:
    """Every problem of a raw definition, in document order; an empty list means valid."""
    return _run(raw, context)[1]


def parse_definition(raw: Any, *, context: ValidationContext | None = None) -> Definition:
    """The typed Definition of a raw one; raises DefinitionInvalid listing every problem."""
    definition, errors = _run(raw, context)
    if definition is None:
        raise DefinitionInvalid(errors)
    return definition
