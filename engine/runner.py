"""Batch execution: moves a batch of enrollments through one block with set-based SQL.

Three things happen to users at a block, each for a whole batch at once:
- ``arrive``: they just got there (node_state ``pending``): a delay sets its timer, a
  message writes its outbox rows and moves them on, a segment block decides or waits.
- ``wake``: their timer came due (delay over, ``within`` ran out, Date Time reached,
  candidate entry time reached).
- ``time_out``: the journey's conversion time ran out.
Every function re-reads its rows under a lock (SKIP LOCKED on PostgreSQL; SQLite runs
one writer at a time) with the condition that made them due, so a repeated or stale
task finds nothing to do. A message row is unique per (enrollment, block, visit).

Each move is written once, in SQL both databases run; the few pieces that differ come
from engine/sql.py's ``dialect()``. Where every user leaves alike (timers whose kind has
a ``uniform_wake``; time-outs) the move is set-based: ``wake_all`` / ``time_out_all``
claim, move and log the batch in one statement on PostgreSQL (three in one transaction
on SQLite). Where Python decides each user's branch (messages, decisions on arrival,
events, the midnight run) ``leave`` moves each (block, branch) group with the same SET
clause (``leaving_to``, ``exit_assignments``). Builder's tables are reached through
Enrollment's foreign keys (``related_table``), never named here.
tests/engine/test_moves_on_both_databases.py holds both databases to the same rows.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from engine import loaders
from engine.blocks import UniformWake, handler
from engine.domain import kind_of
from engine.models import Enrollment, Step
from engine.sql import Move, dialect, dt_param, insert_returning, json_param, locked

log = logging.getLogger(__name__)

ACTIVE = Enrollment.State.ACTIVE
CANDIDATE = Enrollment.State.CANDIDATE
PENDING = Enrollment.NodeState.PENDING
WAITING = Enrollment.NodeState.WAITING
DONE = Enrollment.NodeState.DONE
MAX_HOPS = 200  # a definition is acyclic; this only bounds a corrupt one
BATCH = 5000  # users moved by one task
ENROLLMENTS = Enrollment._meta.db_table

ROW_FIELDS = (
    "id",
    "project_id",
    "journey_id",
    "version_id",
    "profile_id",
    "node",
    "visit",
    "entered_at",
    "node_entered_at",
    "trigger_event_id",
    "context",
    "state",
)


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    project_id: int
    journey_id: int
    version_id: int
    profile_id: int
    node: str
    visit: int
    entered_at: datetime | None
    node_entered_at: datetime | None
    trigger_event_id: int | None
    context: dict[str, Any]
    state: str


# Outcome of a block for one user: the branch taken (None for engage/delay) and what
# the condition saw, for the step log.
Outcome = tuple[str | None, dict[str, Any]]


def load_rows(filter_q: Q, *, order: str = "id", limit: int | None = None) -> list[Row]:
    """Rows matching ``filter_q``, locked for this transaction (rows another worker holds
    are skipped), at most ``limit`` of them in ``order``."""
    qs = locked(Enrollment.objects.filter(filter_q).order_by(order)).values_list(*ROW_FIELDS)
    return [Row(*values) for values in (qs[:limit] if limit is not None else qs)]


# --- moves -----------------------------------------------------------------------------


STEP_COLUMNS = [
    "enrollment_id", "journey_id", "version_number", "profile_id", "node", "visit",
    "entered_at", "left_at", "outcome", "branch", "detail",
]  # fmt: skip
STEP_TYPES = [
    "bigint", "bigint", "integer", "bigint", "text", "integer",
    "timestamptz", "timestamptz", "text", "text", "jsonb",
]  # fmt: skip


def record_steps(
    version: loaders.Version,
    rows: Iterable[Row],
    outcomes: Mapping[int, tuple[str, str, dict[str, Any]]],
    now: datetime,
) -> None:
    """Step log rows: enrollment id -> (outcome, branch taken or "", detail)."""
    now_p = dt_param(now)
    insert_returning(
        Step._meta.db_table,
        STEP_COLUMNS,
        [
            (
                row.id,
                row.journey_id,
                version.number,
                row.profile_id,
                row.node,
                row.visit,
                dt_param(row.node_entered_at or now),
                now_p,
                outcomes[row.id][0],
                outcomes[row.id][1],
                json_param(outcomes[row.id][2]),
            )
            for row in rows
            if row.id in outcomes
        ],
        conflict="(enrollment_id, node, visit) DO NOTHING",  # a replayed move writes nothing twice
        returning="id",
        types=STEP_TYPES,
    )


def step_outcome(branch: str | None) -> str:
    """The step's outcome for leaving on ``branch``: ``yes``/``no`` as the contract names
    them, ``next`` for a block with one way out, ``branch`` for a named branch."""
    if branch is None:
        return Step.Outcome.NEXT.value
    if branch in (Step.Outcome.YES, Step.Outcome.NO):
        return branch
    return Step.Outcome.BRANCH.value


def leave(
    version: loaders.Version, rows: Sequence[Row], outcomes: Mapping[int, Outcome], now: datetime
) -> dict[str, list[int]]:
    """Users leave their block on the given branch: step logged, moved to the next block,
    or, at the end of a path, completed (no goal) or parked there (goal set).

    Users arriving at a block that only starts a wait are settled there in the same
    UPDATE (see ``settled_arrival``). Returns next block -> enrollment ids that arrived
    at a block needing work (node_state pending): messages, on-arrival decisions.
    """
    definition = version.definition
    record_steps(
        version,
        rows,
        {
            row_id: (step_outcome(branch), branch or "", detail)
            for row_id, (branch, detail) in outcomes.items()
        },
        now,
    )
    leaving: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    qualified: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        if row.id not in outcomes:
            continue
        branch = outcomes[row.id][0]
        leaving[(row.node, branch)].append(row.id)
        if kind_of(definition.node(row.node)).qualifies(branch):
            qualified[row.node].append(row.profile_id)
    pending: dict[str, list[int]] = defaultdict(list)
    for (node, branch), ids in leaving.items():
        set_sql, set_params, pending_at = leaving_to(version, node, branch, now)
        dialect().update_ids(ENROLLMENTS, f"{set_sql}, revision = e.revision + 1", set_params, ids)
        if pending_at is not None:
            pending[pending_at].extend(ids)
    qualified_for(version, qualified, now)
    return dict(pending)


def leaving_to(
    version: loaders.Version, node: str, branch: str | None, now: datetime
) -> tuple[str, list[Any], str | None]:
    """Where users leaving ``node`` on ``branch`` go, as the SET clause of the UPDATE that
    moves them (alias ``e``) and its params, and the block they arrive at when it needs
    work (they are left pending there). Arriving at a block that only starts a wait
    settles them there in the same UPDATE (see ``settled_arrival``); at the end of a path
    they complete (no goal) or are parked there (goal set) until a goal or the time-out.
    Every move out of a block, per-user or set-based, writes this one clause."""
    definition = version.definition
    target = definition.next_node(node, branch)
    if target is None:
        if version.has_goals:
            return "node_state = 'done', wake_at = NULL", [], None
        return (*exit_assignments(Enrollment.ExitReason.COMPLETED, now), None)
    settled = settled_arrival(definition.node(target), now)
    sql = (
        f"node = %s, visit = e.visit + 1, node_entered_at = %s, context = {dialect().empty_json}, "
    )
    params: list[Any] = [target, dt_param(now)]
    if settled is None:
        return sql + "node_state = 'pending', wake_at = NULL", params, target
    return (
        sql + "node_state = 'waiting', wake_at = %s",
        [*params, dt_param(settled["wake_at"])],
        None,
    )


def exit_assignments(reason: str, now: datetime) -> tuple[str, list[Any]]:
    """SET clause (alias ``e``) and params of an exit at the block the user is at."""
    return (
        "state = 'exited', exit_reason = %s, exit_node = e.node, exited_at = %s, wake_at = NULL",
        [reason, dt_param(now)],
    )


def exit_ids(ids: Sequence[int], reason: str, now: datetime) -> int:
    """Exit active enrollments at the block they are at."""
    set_sql, params = exit_assignments(reason, now)
    return dialect().update_ids(
        ENROLLMENTS,
        f"{set_sql}, revision = e.revision + 1",
        params,
        ids,
        where="e.state = 'active'",
    )


def exit_rows(
    version_of: Mapping[int, loaders.Version],
    rows: Sequence[Row],
    reason: str,
    now: datetime,
    detail: Mapping[int, dict[str, Any]] | None = None,
) -> None:
    """Exit users wherever they are, logging the exit as the step at their block."""
    by_version: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        by_version[row.version_id].append(row)
    for version_id, group in by_version.items():
        outcomes = {
            r.id: (
                Step.Outcome.EXIT.value,
                "",
                {"reason": reason, **((detail or {}).get(r.id, {}))},
            )
            for r in group
        }
        record_steps(version_of[version_id], group, outcomes, now)
    exit_ids([r.id for r in rows], reason, now)


def wait(
    ids: Sequence[int],
    wake_at: datetime | None,
    now: datetime,
    context: dict[str, Any] | None = None,
) -> None:
    Enrollment.objects.filter(id__in=ids).update(
        node_state=WAITING,
        wake_at=wake_at,
        context=context or {},
        revision=F("revision") + 1,
    )


def qualified_for(
    version: loaders.Version, qualified: Mapping[str, Sequence[int]], now: datetime
) -> None:
    """Journey Trigger entries: these profiles qualified for these blocks (went yes at a
    segment block, passed an engage or delay block, or entered through the entry)."""
    index = loaders.trigger_index(version.project_id)
    if not index.journey_triggers:
        return
    targets = {
        node: [
            live
            for live in index.journey_triggers.get((str(version.journey_id), node), [])
            if live.journey_id != version.journey_id
        ]
        for node, profile_ids in qualified.items()
        if profile_ids
    }
    targets = {node: lives for node, lives in targets.items() if lives}
    if not targets:
        return
    from engine import entries

    def enter_triggered() -> None:
        moment = timezone.now()
        for node, lives in targets.items():
            profile_ids = qualified[node]
            for live in lives:
                if live.takes_entries(moment):
                    entries.enroll(
                        live,
                        dict.fromkeys(profile_ids),
                        moment,
                        detail={
                            pid: {"journey": version.journey_id, "node": node}
                            for pid in profile_ids
                        },
                    )

    # The users count as qualified for the block once this move is committed.
    transaction.on_commit(enter_triggered)


# --- block semantics --------------------------------------------------------------------


def settled_arrival(block: Any, now: datetime) -> dict[str, Any] | None:
    """What arriving at ``block`` sets, when arriving only starts a wait (timer or event);
    None when arrival needs work (a message to write, a decision to take)."""
    return handler(block.type).settle(block, now)


def arrive(
    version: loaders.Version, node: str, rows: Sequence[Row], now: datetime
) -> dict[str, list[int]]:
    """Users just reached ``node``. Returns the arrivals at the following blocks."""
    block = version.definition.node(node)
    settled = settled_arrival(block, now)
    if settled is not None:
        wait([r.id for r in rows], settled["wake_at"], now)
        return {}
    return handler(block.type).arrive(version, node, rows, now)


def wake(
    version: loaders.Version, node: str, rows: Sequence[Row], now: datetime
) -> dict[str, list[int]]:
    """Timers of users waiting at ``node`` came due, at a block whose woken users do not
    all leave alike (the others move in one set-based ``wake_all``)."""
    block = version.definition.node(node)
    outcomes = handler(block.type).wake(block, rows)
    if outcomes is None:
        log.warning("Timer at block %s (%s) with nothing to do; ignored", node, block.type)
        return {}
    return leave(version, rows, outcomes, now)


def set_timers(timers: Mapping[int, tuple[datetime, dict[str, Any]]], **fields: Any) -> None:
    """Give each enrollment its own wake time and context: one UPDATE for the batch."""
    if not timers:
        return
    Enrollment.objects.bulk_update(
        [Enrollment(id=i, wake_at=at, context=context) for i, (at, context) in timers.items()],
        ["wake_at", "context"],
        batch_size=2000,
    )
    Enrollment.objects.filter(id__in=list(timers)).update(revision=F("revision") + 1, **fields)


# --- set-based moves: one SQL statement per batch on PostgreSQL, the same SQL on SQLite ---
#
# When every user of the batch leaves alike (timers of delays, of `within` waits, of
# Inaction and Date Time blocks; time-outs), the move claims the due rows, moves them and
# writes their steps in SQL, composed here once from engine/sql.py's dialect pieces: one
# statement on PostgreSQL (SKIP LOCKED claim, UPDATE and INSERT as CTEs), three in one
# transaction on SQLite. tests/engine/test_moves_on_both_databases.py holds them equal.

# The claimed rows, as the step insert reads them (``due``) and as the move returns them.
DUE_COLUMNS = (
    "e.id, e.profile_id, e.journey_id, e.version_id, e.node, e.visit, e.node_entered_at, e.context"
)


@cache
def related_table(field: str) -> str:
    """The table behind one of Enrollment's foreign keys: the moves read journeys' status
    and versions' numbers without the engine naming builder's tables itself."""
    return str(Enrollment._meta.get_field(field).related_model._meta.db_table)  # type: ignore[union-attr]


def _move(
    *,
    claim: str,
    claim_params: Sequence[Any],
    set_sql: str,
    set_params: Sequence[Any],
    version_sql: str,
    version_params: Sequence[Any],
    branch: str | None,
    detail: Mapping[str, Any],
    from_context: Mapping[str, str],
    outcome: str,
    now: datetime,
) -> list[tuple[Any, ...]]:
    """Claim rows (``claim``: the WHERE, ORDER BY and LIMIT of enrollments ``e``), move
    them (``set_sql``) and log each one's step: left on ``branch`` with ``outcome`` and
    the ``detail`` (constant values, plus ``from_context``: detail key -> key of the
    enrollment's context). Returns the claimed rows (``DUE_COLUMNS``)."""
    d = dialect()
    pairs = [(key, d.json_value()) for key in detail]
    pairs += [(key, d.json_field("due.context", source)) for key, source in from_context.items()]
    insert = (
        f"INSERT INTO {Step._meta.db_table} ({', '.join(STEP_COLUMNS)}) "
        f"SELECT due.id, due.journey_id, {version_sql}, due.profile_id, due.node, due.visit, "
        f"COALESCE(due.node_entered_at, %s), %s, %s, %s, {d.json_object(pairs)} "
        "FROM due WHERE true ON CONFLICT (enrollment_id, node, visit) DO NOTHING"
    )
    now_p = dt_param(now)
    return d.claim_and_move(
        Move(
            table=ENROLLMENTS,
            columns=DUE_COLUMNS,
            claim=claim,
            claim_params=claim_params,
            set_sql=f"{set_sql}, revision = e.revision + 1",
            set_params=set_params,
            insert=insert,
            insert_params=[*version_params, now_p, now_p, outcome, branch or ""]
            + [json_param(value) for value in detail.values()],
        )
    )


def _only(ids: Sequence[int] | None) -> tuple[str, list[Any]]:
    """The claim's condition (and params) restricting it to ``ids`` when given."""
    if ids is None:
        return "", []
    d = dialect()
    return f"{d.in_ids('e.id')} AND ", [d.ids(ids)]


def wake_all(
    version: loaders.Version,
    node: str,
    uniform: UniformWake,
    ids: Sequence[int] | None,
    now: datetime,
    limit: int,
) -> tuple[int, dict[str, list[int]]]:
    """Due timers at ``node`` where every woken user leaves alike: one set-based move.
    Returns (users moved, the arrivals at the following block needing work)."""
    set_sql, set_params, pending_at = leaving_to(version, node, uniform.branch, now)
    id_sql, id_params = _only(ids)
    moved = _move(
        # One journey: its status is read once (not joined per row), so the claim walks
        # the due index in wake_at order and stops at the batch size.
        claim=(
            f"WHERE {id_sql}e.version_id = %s AND e.node = %s AND e.state = 'active' "
            "AND e.node_state = 'waiting' AND e.wake_at <= %s "
            f"AND (SELECT j.status FROM {related_table('journey')} j WHERE j.id = %s) = 'live' "
            "ORDER BY e.wake_at LIMIT %s"
        ),
        claim_params=[*id_params, version.id, node, dt_param(now), version.journey_id, limit],
        set_sql=set_sql,
        set_params=set_params,
        version_sql="%s",
        version_params=[version.number],
        branch=uniform.branch,
        detail=uniform.detail,
        from_context=uniform.from_context,
        outcome=step_outcome(uniform.branch),
        now=now,
    )
    if kind_of(version.definition.node(node)).qualifies(uniform.branch):
        qualified_for(version, {node: [row[1] for row in moved]}, now)
    following = {pending_at: [row[0] for row in moved]} if pending_at and moved else {}
    return len(moved), following


def time_out_all(ids: Sequence[int] | None, now: datetime, limit: int) -> int:
    """Conversion time ran out: exit the due users wherever they are, in deadline order."""
    id_sql, id_params = _only(ids)
    set_sql, set_params = exit_assignments(Enrollment.ExitReason.TIME_OUT, now)
    moved = _move(
        claim=(
            f"JOIN {related_table('journey')} j ON j.id = e.journey_id AND j.status = 'live' "
            f"WHERE {id_sql}e.state = 'active' AND e.deadline <= %s AND {TIMED_OUT_SQL} "
            "ORDER BY e.deadline LIMIT %s"
        ),
        claim_params=[*id_params, dt_param(now), limit],
        set_sql=set_sql,
        set_params=set_params,
        version_sql=f"(SELECT v.number FROM {related_table('version')} v WHERE v.id = due.version_id)",
        version_params=[],
        branch=None,
        detail={"reason": Enrollment.ExitReason.TIME_OUT.value},
        from_context={},
        outcome=Step.Outcome.EXIT.value,
        now=now,
    )
    return len(moved)


# --- entry points used by tasks ----------------------------------------------------------


def process_arrivals(
    version_id: int, node: str, ids: Sequence[int], now: datetime | None = None
) -> int:
    """Move users who arrived at ``node`` and keep going through every block that does not
    wait (messages, on-arrival decisions), one transaction per block. Returns users moved."""
    version = loaders.version(version_id)
    pending: list[tuple[str, list[int]]] = [(node, list(ids))]
    moved = 0
    hops = 0
    while pending and hops < MAX_HOPS:
        hops += 1
        current, current_ids = pending.pop()
        # Inside a caller's transaction (an entry) this joins it: one commit, no savepoint.
        with transaction.atomic(savepoint=False):
            now = timezone.now() if now is None or hops > 1 else now
            rows = load_rows(
                Q(
                    id__in=current_ids,
                    version_id=version_id,
                    node=current,
                    state=ACTIVE,
                    node_state=PENDING,
                )
                & _journey_running()
            )
            if not rows:
                continue
            moved += len(rows)
            following = arrive(version, current, rows, now)
        pending.extend(following.items())
    return moved


def process_wakes(
    version_id: int,
    node: str,
    ids: Sequence[int] | None = None,
    now: datetime | None = None,
    *,
    limit: int = BATCH,
) -> int:
    """Timers came due at ``node``: the given users, or up to ``limit`` due ones (claimed
    here, rows another worker holds are skipped). Returns users moved."""
    version = loaders.version(version_id)
    block = version.definition.node(node)
    uniform = handler(block.type).uniform_wake(block)
    with transaction.atomic():
        now = now or timezone.now()
        if uniform is not None:
            count, following = wake_all(version, node, uniform, ids, now, limit)
        else:
            # Outcomes decided per user in Python (no kind needs it today).
            due = due_wakes(version_id, node, now)
            if ids is not None:
                due &= Q(id__in=ids)
            rows = load_rows(due, order="wake_at", limit=limit)
            count = len(rows)
            following = wake(version, node, rows, now) if rows else {}
    for target, target_ids in following.items():
        process_arrivals(version_id, target, target_ids)
    return count


def due_wakes(version_id: int, node: str, now: datetime) -> Q:
    """Users at ``node`` whose timer came due: the condition ``wake_all`` claims by, as a
    query for the ticker's counts and the quarantine's search."""
    return (
        Q(version_id=version_id, node=node, state=ACTIVE, node_state=WAITING, wake_at__lte=now)
        & _journey_running()
    )


def timed_out(now: datetime) -> Q:
    """Due time-outs. One waits while a timer due before it is pending: after an outage,
    due work runs in time order (the user may have completed before the deadline)."""
    return (
        Q(state=ACTIVE, deadline__lte=now)
        & (Q(wake_at__isnull=True) | Q(wake_at__gte=F("deadline")))
        & _journey_running()
    )


TIMED_OUT_SQL = "(e.wake_at IS NULL OR e.wake_at >= e.deadline)"


def process_time_outs(
    ids: Sequence[int] | None = None, now: datetime | None = None, *, limit: int = BATCH
) -> int:
    """Conversion time ran out: the given users, or up to ``limit`` due ones."""
    with transaction.atomic():
        return time_out_all(ids, now or timezone.now(), limit)


def process_stale_arrivals(version_id: int, node: str, *, limit: int = BATCH) -> int:
    """Arrivals whose processing was lost (a crash between commit and dispatch)."""
    ids = list(
        Enrollment.objects.filter(stale_arrivals(timezone.now()), version_id=version_id, node=node)
        .order_by("node_entered_at")
        .values_list("id", flat=True)[:limit]
    )
    return process_arrivals(version_id, node, ids) if ids else 0


STALE_ARRIVAL = timedelta(seconds=15)


def stale_arrivals(now: datetime) -> Q:
    return (
        Q(state=ACTIVE, node_state=PENDING, node_entered_at__lte=now - STALE_ARRIVAL)
        & _journey_running()
    )


def _journey_running() -> Q:
    """Paused journeys keep their users in place: nothing moves until resume."""
    return Q(journey__status="live")
