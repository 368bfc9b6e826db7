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
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from engine import loaders
from engine.blocks import handler
from engine.domain import kind_of
from engine.models import Enrollment, Step
from engine.sql import dt_param, insert_returning, json_param, server_cursor

log = logging.getLogger(__name__)

ACTIVE = Enrollment.State.ACTIVE
CANDIDATE = Enrollment.State.CANDIDATE
PENDING = Enrollment.NodeState.PENDING
WAITING = Enrollment.NodeState.WAITING
DONE = Enrollment.NodeState.DONE
MAX_HOPS = 200  # a definition is acyclic; this only bounds a corrupt one
BATCH = 5000  # users moved by one task

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


def locked(qs: Any) -> Any:
    """Lock the rows for this transaction, skipping rows another worker holds."""
    if connection.features.has_select_for_update_skip_locked:
        return qs.select_for_update(skip_locked=True, of=("self",))
    return qs


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
    arrivals: dict[str, list[int]] = defaultdict(list)
    path_end: list[int] = []
    for row in rows:
        if row.id not in outcomes:
            continue
        target = definition.next_node(row.node, outcomes[row.id][0])
        if target is None:
            path_end.append(row.id)
        else:
            arrivals[target].append(row.id)
    pending: dict[str, list[int]] = {}
    for target, ids in arrivals.items():
        settled = settled_arrival(definition.node(target), now)
        Enrollment.objects.filter(id__in=ids).update(
            node=target,
            visit=F("visit") + 1,
            node_entered_at=now,
            context={},
            revision=F("revision") + 1,
            **(settled or {"node_state": PENDING, "wake_at": None}),
        )
        if settled is None:
            pending[target] = ids
    if path_end:
        if version.has_goals:
            # With a goal set, users stay at the last block until a goal or the time-out.
            Enrollment.objects.filter(id__in=path_end).update(
                node_state=DONE, wake_at=None, revision=F("revision") + 1
            )
        else:
            exit_ids(path_end, Enrollment.ExitReason.COMPLETED, now)
    qualified: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        if row.id in outcomes and kind_of(definition.node(row.node)).qualifies(outcomes[row.id][0]):
            qualified[row.node].append(row.profile_id)
    qualified_for(version, qualified, now)
    return pending


def exit_ids(ids: Sequence[int], reason: str, now: datetime) -> int:
    """Exit active enrollments at the block they are at."""
    return Enrollment.objects.filter(id__in=ids, state=ACTIVE).update(
        state=Enrollment.State.EXITED,
        exit_reason=reason,
        exit_node=F("node"),
        exited_at=now,
        wake_at=None,
        revision=F("revision") + 1,
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
    """Timers of users waiting at ``node`` came due."""
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


# --- PostgreSQL: one statement per batch -------------------------------------------------
#
# The same moves as above, for the cases where every user of the batch takes the same
# way out (timers of delays, of `within` waits, of Inaction and Date Time blocks; time-outs):
# lock the due rows (SKIP LOCKED), move them and write their steps in ONE statement, with
# the ids bound as one array. The generic path above stays the reference and runs on SQLite.

_STEP_COLUMNS = (
    "enrollment_id, journey_id, version_number, profile_id, node, visit, entered_at, left_at, "
    "outcome, branch, detail"
)


def _uniform_wake(block: Any) -> tuple[str | None, str, list[Any]] | None:
    """(branch, SQL for the step detail, its params) when every woken user leaves alike."""
    return handler(block.type).wake_sql(block)


def _target_assignments(
    version: loaders.Version, node: str, branch: str | None, now: datetime
) -> tuple[str, list[Any], str | None]:
    """SET clause (and params) moving users out of ``node`` on ``branch``, and the block
    they arrive at when it still needs work (then they are left pending there)."""
    definition = version.definition
    target = definition.next_node(node, branch)
    if target is None:
        if version.has_goals:
            return "node_state = 'done', wake_at = NULL", [], None
        completed = (
            "state = 'exited', exit_reason = 'completed', exit_node = e.node, exited_at = %s, "
            "wake_at = NULL"
        )
        return completed, [now], None
    settled = settled_arrival(definition.node(target), now)
    sql = "node = %s, visit = e.visit + 1, node_entered_at = %s, context = '{}'::jsonb, "
    params: list[Any] = [target, now]
    if settled is None:
        return sql + "node_state = 'pending', wake_at = NULL", params, target
    return sql + "node_state = 'waiting', wake_at = %s", [*params, settled["wake_at"]], None


_LIVE_JOIN = "JOIN builder_journey j ON j.id = e.journey_id AND j.status = 'live'"


def _move_all(
    *,
    live_join: str = _LIVE_JOIN,
    due_where: str,
    due_params: list[Any],
    set_sql: str,
    set_params: list[Any],
    step_version: str,
    step_params: list[Any],
    outcome: str,
    branch: str,
    detail_sql: str,
    detail_params: list[Any],
    now: datetime,
    order: str,
    limit: int,
) -> list[tuple[int, int, str]]:
    enrollment = Enrollment._meta.db_table
    sql = f"""
        WITH due AS (
            SELECT e.id, e.profile_id, e.journey_id, e.version_id, e.node, e.visit,
                   e.node_entered_at, e.context
            FROM {enrollment} e {live_join}
            WHERE {due_where}
            ORDER BY {order} LIMIT %s
            FOR UPDATE OF e SKIP LOCKED
        ), moved AS (
            -- The claimed rows by primary key (an array, not a join the planner could
            -- answer by hashing the whole table); the steps read their old values in due.
            UPDATE {enrollment} e SET {set_sql}, revision = e.revision + 1
            WHERE e.id = ANY(ARRAY(SELECT id FROM due))
            RETURNING e.id
        ), steps AS (
            INSERT INTO {Step._meta.db_table} ({_STEP_COLUMNS})
            SELECT due.id, due.journey_id, {step_version}, due.profile_id, due.node, due.visit,
                   COALESCE(due.node_entered_at, %s), %s, %s, %s, {detail_sql}
            FROM due JOIN moved ON moved.id = due.id
            ON CONFLICT (enrollment_id, node, visit) DO NOTHING
        )
        SELECT due.id, due.profile_id, due.node FROM due JOIN moved ON moved.id = due.id
    """
    params = [
        *due_params,
        limit,
        *set_params,
        *step_params,
        now,
        now,
        outcome,
        branch,
        *detail_params,
    ]
    with server_cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]


def _due_ids(ids: Sequence[int] | None) -> tuple[str, list[Any]]:
    return ("e.id = ANY(%s) AND ", [list(ids)]) if ids is not None else ("", [])


def _wake_fast(
    version: loaders.Version, node: str, ids: Sequence[int] | None, now: datetime, limit: int
) -> tuple[int, dict[str, list[int]]] | None:
    uniform = _uniform_wake(version.definition.node(node))
    if uniform is None:
        return None
    branch, detail_sql, detail_params = uniform
    set_sql, set_params, pending_at = _target_assignments(version, node, branch, now)
    id_sql, id_params = _due_ids(ids)
    moved = _move_all(
        # One journey: its status is read once (not joined per row), so the claim walks
        # the due index in wake_at order and stops at the batch size.
        live_join="",
        due_where=(
            f"{id_sql}e.version_id = %s AND e.node = %s AND e.state = 'active' "
            "AND e.node_state = 'waiting' AND e.wake_at <= %s AND "
            "(SELECT j.status FROM builder_journey j WHERE j.id = %s) = 'live'"
        ),
        due_params=[*id_params, version.id, node, now, version.journey_id],
        set_sql=set_sql,
        set_params=set_params,
        step_version="%s",
        step_params=[version.number],
        outcome=step_outcome(branch),
        branch=branch or "",
        detail_sql=detail_sql,
        detail_params=detail_params,
        now=now,
        order="e.wake_at",
        limit=limit,
    )
    if branch in (None, "yes"):
        qualified_for(version, {node: [profile_id for _, profile_id, _ in moved]}, now)
    following = {pending_at: [m[0] for m in moved]} if pending_at and moved else {}
    return len(moved), following


def _time_outs_fast(ids: Sequence[int] | None, now: datetime, limit: int) -> int:
    id_sql, id_params = _due_ids(ids)
    moved = _move_all(
        due_where=f"{id_sql}e.state = 'active' AND e.deadline <= %s AND {TIMED_OUT_SQL}",
        due_params=[*id_params, now],
        set_sql=(
            "state = 'exited', exit_reason = 'time_out', exit_node = e.node, exited_at = %s, "
            "wake_at = NULL"
        ),
        set_params=[now],
        step_version="(SELECT number FROM builder_journeyversion v WHERE v.id = due.version_id)",
        step_params=[],
        outcome=Step.Outcome.EXIT,
        branch="",
        detail_sql="jsonb_build_object('reason', 'time_out')",
        detail_params=[],
        now=now,
        order="e.deadline",
        limit=limit,
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
    with transaction.atomic():
        now = now or timezone.now()
        fast = (
            _wake_fast(version, node, ids, now, limit)
            if connection.vendor == "postgresql"
            else None
        )
        if fast is not None:
            count, following = fast
        else:
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
    """Users at ``node`` whose timer came due (the ORM twin of ``_wake_fast``'s claim)."""
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
        now = now or timezone.now()
        if connection.vendor == "postgresql":
            return _time_outs_fast(ids, now, limit)
        due = timed_out(now) & (Q(id__in=ids) if ids is not None else Q())
        rows = load_rows(due, order="deadline", limit=limit)
        versions = {r.version_id: loaders.version(r.version_id) for r in rows}
        exit_rows(versions, rows, Enrollment.ExitReason.TIME_OUT, now)
    return len(rows)


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
