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

from engine import loaders, outbox
from engine.domain import (
    ActionBlock,
    DateTimeBlock,
    DelayBlock,
    InactionBlock,
    MessageBlock,
    PageCountBlock,
    PageVisitBlock,
    PastBehaviourBlock,
    ReferrerEntryBlock,
)
from engine.models import Enrollment, Profile, Step

log = logging.getLogger(__name__)

ACTIVE = Enrollment.State.ACTIVE
CANDIDATE = Enrollment.State.CANDIDATE
PENDING = Enrollment.NodeState.PENDING
WAITING = Enrollment.NodeState.WAITING
DONE = Enrollment.NodeState.DONE
EVENT_WAIT_BLOCKS = (ActionBlock, PageVisitBlock, ReferrerEntryBlock, PageCountBlock)
MAX_HOPS = 200  # a definition is acyclic; this only bounds a corrupt one

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


def _locked(qs: Any) -> Any:
    if connection.features.has_select_for_update_skip_locked:
        return qs.select_for_update(skip_locked=True, of=("self",))
    return qs


def load_rows(filter_q: Q) -> list[Row]:
    qs = _locked(Enrollment.objects.filter(filter_q).order_by("id"))
    return [Row(*values) for values in qs.values_list(*ROW_FIELDS)]


# --- moves -----------------------------------------------------------------------------


def record_steps(
    version: loaders.Version,
    rows: Iterable[Row],
    outcomes: Mapping[int, tuple[str, dict[str, Any]]],
    now: datetime,
) -> None:
    Step.objects.bulk_create(
        [
            Step(
                enrollment_id=row.id,
                journey_id=row.journey_id,
                version_number=version.number,
                profile_id=row.profile_id,
                node=row.node,
                visit=row.visit,
                entered_at=row.node_entered_at or now,
                left_at=now,
                outcome=outcomes[row.id][0],
                detail=outcomes[row.id][1],
            )
            for row in rows
            if row.id in outcomes
        ],
        ignore_conflicts=True,  # a replayed move writes nothing twice
        batch_size=2000,
    )


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
            row_id: (branch or Step.Outcome.NEXT, detail)
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
            lease_until=None,
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
                node_state=DONE, wake_at=None, lease_until=None, revision=F("revision") + 1
            )
        else:
            exit_ids(path_end, Enrollment.ExitReason.COMPLETED, now)
    _fire_journey_triggers(version, rows, outcomes, now)
    return pending


def exit_ids(ids: Sequence[int], reason: str, now: datetime) -> int:
    """Exit active enrollments at the block they are at."""
    return Enrollment.objects.filter(id__in=ids, state=ACTIVE).update(
        state=Enrollment.State.EXITED,
        exit_reason=reason,
        exit_node=F("node"),
        exited_at=now,
        wake_at=None,
        lease_until=None,
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
            r.id: (Step.Outcome.EXIT.value, {"reason": reason, **((detail or {}).get(r.id, {}))})
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
        lease_until=None,
        context=context or {},
        revision=F("revision") + 1,
    )


def _fire_journey_triggers(
    version: loaders.Version, rows: Sequence[Row], outcomes: Mapping[int, Outcome], now: datetime
) -> None:
    """Journey Trigger entries: users who qualified for (went yes at, or passed) a block."""
    index = loaders.trigger_index(version.project_id)
    if not index.journey_triggers:
        return
    by_node: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        branch = outcomes.get(row.id, ("no", {}))[0]
        if branch in (None, "yes", Step.Outcome.NEXT):
            by_node[row.node].append(row)
    from engine import entries

    def enter_triggered() -> None:
        for node, group in by_node.items():
            for live in index.journey_triggers.get((str(version.journey_id), node), []):
                if live.journey_id == version.journey_id or not live.takes_entries(now):
                    continue
                entries.enroll(
                    live,
                    {row.profile_id: None for row in group},
                    timezone.now(),
                    detail={
                        row.profile_id: {"journey": version.journey_id, "node": node}
                        for row in group
                    },
                )

    # The users count as qualified for the block once this move is committed.
    if by_node:
        transaction.on_commit(enter_triggered)


# --- block semantics --------------------------------------------------------------------


def settled_arrival(block: Any, now: datetime) -> dict[str, Any] | None:
    """What arriving at ``block`` sets, when arriving only starts a wait (timer or event);
    None when arrival needs work (a message to write, a decision to take)."""
    if isinstance(block, DelayBlock):
        return {"node_state": WAITING, "wake_at": now + timedelta(seconds=block.duration)}
    if isinstance(block, EVENT_WAIT_BLOCKS):
        wake_at = now + timedelta(seconds=block.within) if block.within else None
        return {"node_state": WAITING, "wake_at": wake_at}
    if isinstance(block, InactionBlock):
        return {"node_state": WAITING, "wake_at": now + timedelta(seconds=block.within)}
    if isinstance(block, PastBehaviourBlock) and block.evaluate != "on_arrival":
        # Evaluated by the project's 12:00 am run (engine.daily); no timer.
        return {"node_state": WAITING, "wake_at": None}
    return None


def arrive(
    version: loaders.Version, node: str, rows: Sequence[Row], now: datetime
) -> dict[str, list[int]]:
    """Users just reached ``node``. Returns the arrivals at the following blocks."""
    block = version.definition.node(node)
    ids = [r.id for r in rows]
    settled = settled_arrival(block, now)
    if settled is not None:
        wait(ids, settled["wake_at"], now)
        return {}
    if isinstance(block, MessageBlock):
        outbox.write(version, block, rows, now)
        return leave(version, rows, {r.id: (None, {"channel": block.channel}) for r in rows}, now)
    if isinstance(block, PastBehaviourBlock):  # evaluated on arrival
        return leave(version, rows, evaluate_past_behaviour(block, rows, now), now)
    if isinstance(block, DateTimeBlock):
        return _date_time_arrive(version, block, rows, now)
    raise ValueError(f"Block type {block.type!r} cannot be inside a journey")


def wake(
    version: loaders.Version, node: str, rows: Sequence[Row], now: datetime
) -> dict[str, list[int]]:
    """Timers of users waiting at ``node`` came due."""
    block = version.definition.node(node)
    if isinstance(block, DelayBlock):
        outcomes: dict[int, Outcome] = {
            r.id: (None, {"waited_seconds": block.duration}) for r in rows
        }
    elif isinstance(block, EVENT_WAIT_BLOCKS):
        outcomes = {r.id: ("no", {"within_seconds": block.within, "happened": False}) for r in rows}
    elif isinstance(block, InactionBlock):
        outcomes = {
            r.id: (
                "yes",
                {"not_event": block.not_event, "within_seconds": block.within, "happened": False},
            )
            for r in rows
        }
    elif isinstance(block, DateTimeBlock):
        outcomes = {
            r.id: ("yes", {"property": block.property, "at": r.context.get("target")}) for r in rows
        }
    else:
        log.warning("Timer at block %s (%s) with nothing to do; ignored", node, block.type)
        return {}
    return leave(version, rows, outcomes, now)


def evaluate_past_behaviour(
    block: PastBehaviourBlock, rows: Sequence[Row], now: datetime
) -> dict[int, Outcome]:
    from engine.conditions import evaluate_batch

    verdicts = evaluate_batch(
        conditions=block.conditions,
        match=block.match,
        window_days=block.window_days,
        profile_ids=[r.profile_id for r in rows],
        now=now,
    )
    return {
        r.id: ("yes" if verdicts[r.profile_id][0] else "no", verdicts[r.profile_id][1])
        for r in rows
    }


def parse_datetime_value(value: Any) -> datetime | None:
    """A profile property as a date-time: ISO 8601 string (naive = UTC) or epoch seconds."""
    from datetime import UTC

    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(
                value.replace("Z", "+00:00") if value.endswith("Z") else value
            )
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def date_time_target(block: DateTimeBlock, properties: Mapping[str, Any]) -> datetime | None:
    from engine.domain import lookup

    base = parse_datetime_value(lookup(properties, block.property))
    return None if base is None else base + timedelta(seconds=block.offset)


def _date_time_arrive(
    version: loaders.Version, block: DateTimeBlock, rows: Sequence[Row], now: datetime
) -> dict[str, list[int]]:
    properties = dict(
        Profile.objects.filter(id__in=[r.profile_id for r in rows]).values_list("id", "properties")
    )
    no: dict[int, Outcome] = {}
    for row in rows:
        target = date_time_target(block, properties.get(row.profile_id) or {})
        if target is None:
            no[row.id] = (
                "no",
                {"property": block.property, "reason": "missing or not a date-time"},
            )
        elif target <= now:
            no[row.id] = (
                "no",
                {"property": block.property, "at": target.isoformat(), "reason": "already past"},
            )
        else:
            Enrollment.objects.filter(id=row.id).update(
                node_state=WAITING,
                wake_at=target,
                lease_until=None,
                context={"target": target.isoformat()},
                revision=F("revision") + 1,
            )
    return leave(version, [r for r in rows if r.id in no], no, now) if no else {}


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
        with transaction.atomic():
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
    version_id: int, node: str, ids: Sequence[int], now: datetime | None = None
) -> int:
    version = loaders.version(version_id)
    with transaction.atomic():
        now = now or timezone.now()
        rows = load_rows(
            Q(
                id__in=ids,
                version_id=version_id,
                node=node,
                state=ACTIVE,
                node_state=WAITING,
                wake_at__lte=now,
            )
            & _journey_running()
        )
        following = wake(version, node, rows, now) if rows else {}
    for target, target_ids in following.items():
        process_arrivals(version_id, target, target_ids)
    return len(rows)


def process_time_outs(ids: Sequence[int], now: datetime | None = None) -> int:
    with transaction.atomic():
        now = now or timezone.now()
        rows = load_rows(Q(id__in=ids, state=ACTIVE, deadline__lte=now) & _journey_running())
        versions = {r.version_id: loaders.version(r.version_id) for r in rows}
        exit_rows(versions, rows, Enrollment.ExitReason.TIME_OUT, now)
    return len(rows)


def _journey_running() -> Q:
    """Paused journeys keep their users in place: nothing moves until resume."""
    return Q(journey__status="live")
