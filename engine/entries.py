"""Entries into journeys: re-entry rules, candidates (Inaction, Date Time) and Past Behaviour entry.

``enroll`` is the one door into a journey: it applies the re-entry rule (once ever
by default; with re-entry, again after exiting), never lets a user in twice at once
(a partial unique index does, so concurrent enrollers cannot race), logs the entry
step and moves the new users on to the first block, all in one transaction. It holds the
journey's row and the batch's profiles' rows (``FOR KEY SHARE``, one statement each)
while it writes: the enrollments' project, journey, version and profile carry no
database foreign keys (migrations 0019, 0020), and those locks keep them from being
deleted under it, at a fraction of the per-row checks' cost.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from engine import loaders, runner
from engine.models import Enrollment, Profile, Step
from engine.sql import dialect, dt_param, insert_returning, json_param

ACTIVE = Enrollment.State.ACTIVE
CANDIDATE = Enrollment.State.CANDIDATE
ENROLLMENT_COLUMNS = [
    "project_id", "journey_id", "version_id", "profile_id", "state", "node", "node_state", "visit",
    "revision", "entry_number", "wake_at", "deadline", "entered_at", "node_entered_at", "exited_at",
    "exit_reason", "exit_node", "trigger_event_id", "context",
]  # fmt: skip
ENROLLMENT_TYPES = [
    "bigint", "bigint", "bigint", "bigint", "text", "text", "text", "integer",
    "integer", "integer", "timestamptz", "timestamptz", "timestamptz", "timestamptz", "timestamptz",
    "text", "text", "bigint", "jsonb",
]  # fmt: skip


def _admissible(
    live: loaders.LiveJourney,
    profile_ids: Sequence[int],
    *,
    later: bool = False,
    once_since: datetime | None = None,
) -> tuple[list[int], dict[int, int]]:
    """Profiles allowed in, and each one's entry number: one statement for the batch.

    ``later`` is for candidates, who enter some time from now: only the once-ever rule
    applies then; "not in the journey at this moment" is checked when they enter.
    ``once_since``: a profile that entered at or after this moment is not let in again
    (one entry per Past Behaviour check, even with re-entry, even when the check is run
    again after a crash).
    """
    d = dialect()
    # The profiles' rows, locked FOR KEY SHARE until the transaction ends, in one
    # statement: the enrollment's profile carries no database foreign key (migration
    # 0020), so a profile deleted (merged away) before this is not let in, and none of
    # these can be deleted before the batch commits.
    existing = {
        int(row[0])
        for row in d.fetch(
            f"SELECT id FROM {Profile._meta.db_table} WHERE {d.in_ids('id')}{_key_share()}",
            [d.ids(profile_ids)],
        )
    }
    since_sql, since_params = "0", []
    if once_since is not None:
        since_sql = f"sum(CASE WHEN e.entered_at >= {d.param('timestamptz')} THEN 1 ELSE 0 END)"
        since_params = [d.dt(once_since)]
    rows = d.fetch(
        *d.per_profile(
            Enrollment._meta.db_table,
            f"count(*), sum(CASE WHEN e.state = 'active' THEN 1 ELSE 0 END), {since_sql}",
            # "+ 0": through each profile's few stays (enrollment_profile_state), never
            # through the journey's index: a mass entry's journey holds hundreds of
            # thousands of stays, and the planner ANDed both indexes, reading all the
            # journey's entries once per profile.
            "e.journey_id + 0 = %s AND e.state NOT IN ('candidate', 'cancelled')",
            [*since_params, live.journey_id],
            profile_ids,
        )
    )
    history = {int(pid): int(stays) for pid, stays, _, _ in rows}
    refused = {int(pid) for pid, _, now_in, since in rows if (now_in and not later) or since}
    allow_reentry = live.version.definition.settings.allow_reentry
    allowed = [
        pid
        for pid in dict.fromkeys(profile_ids)
        if pid in existing and pid not in refused and (allow_reentry or pid not in history)
    ]
    return allowed, {pid: history.get(pid, 0) + 1 for pid in allowed}


def _hold_journey(live: loaders.LiveJourney, *, live_now: bool) -> bool:
    """Lock the journey's row until this transaction ends (``FOR KEY SHARE``: other
    updates of the row go on; deleting it waits) and say whether it still takes entries
    at this version: it exists (its versions and project with it), and with ``live_now``
    it is live at ``live``'s version now (a scheduled entry check stops when the journey
    is paused, stopped or republished mid-way). This replaces the foreign keys the
    enrollments no longer carry: one lock per batch instead of a check per row.

    Without ``live_now`` (events), the journey may have been paused since the event was
    accepted (``LiveJourney.as_of``): only its existence counts."""
    journeys = apps.get_model("builder", "Journey")  # engine stays below builder
    condition = "id = %s"
    params: list[Any] = [live.journey_id]
    if live_now:
        condition += " AND status = 'live' AND live_version_id = %s"
        params.append(live.version.id)
    held = dialect().fetch(
        f"SELECT 1 FROM {journeys._meta.db_table} WHERE {condition}{_key_share()}", params
    )
    return bool(held)


def _key_share() -> str:
    """The lock clause that keeps a referenced row from being deleted until this
    transaction ends (other updates of it go on). None on SQLite: one writer at a time,
    and its transactions take the write lock first."""
    return dialect().key_share


def _json_number(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def enroll(
    live: loaders.LiveJourney,
    triggers: Mapping[int, int | None],
    now: datetime,
    *,
    detail: Mapping[int, dict[str, Any]] | None = None,
    once_since: datetime | None = None,
    live_now: bool = False,
) -> list[int]:
    """Enter profiles (profile id -> triggering event id) into a live journey.

    Returns the new enrollment ids. Safe to repeat: users already in are skipped.
    ``live_now``: enter only if the journey is live at this version at this moment (a
    scheduled entry check), not merely as it was when an event was accepted.
    Set-based, whatever the batch size: one statement finds who may enter, one inserts
    their enrollments, one their entry steps (each with its ids or rows bound as one
    parameter), then the first move runs through the runner's set-based path.
    """
    if not triggers or not live.takes_entries(now):
        return []
    version = live.version
    definition = version.definition
    entry = definition.entry
    enrollments, steps = Enrollment._meta.db_table, Step._meta.db_table
    with transaction.atomic():
        if not _hold_journey(live, live_now=live_now):
            return []
        allowed, numbers = _admissible(live, list(triggers), once_since=once_since)
        if not allowed:
            return []
        first = definition.next_node(entry.id, "yes")
        conversion = definition.settings.conversion_time
        deadline = now + timedelta(seconds=conversion) if conversion else None
        node = first or entry.id
        # Arriving at a block that only starts a wait is written at once (no second pass).
        settled = runner.settled_arrival(definition.node(first), now) if first else None
        if settled is not None:
            node_state, wake_at = settled["node_state"], settled["wake_at"]
        else:
            node_state = Enrollment.NodeState.PENDING if first else Enrollment.NodeState.DONE
            wake_at = None
        rows = ",".join(
            f'{{"p":{pid},"t":{_json_number(triggers[pid])},"n":{numbers[pid]}}}' for pid in allowed
        )
        d = dialect()
        # The partial unique index "one active per journey and profile" turns a
        # concurrent second entry into a no-op (ON CONFLICT DO NOTHING).
        inserted = d.fetch(
            f"INSERT INTO {enrollments} ({', '.join(ENROLLMENT_COLUMNS)}) "
            f"SELECT {d.param('bigint')}, {d.param('bigint')}, {d.param('bigint')}, r.p, {d.param('text')}, "
            f"{d.param('text')}, {d.param('text')}, {d.param('integer')}, 0, r.n, {d.param('timestamptz')}, "
            f"{d.param('timestamptz')}, {d.param('timestamptz')}, {d.param('timestamptz')}, NULL, '', '', "
            f"r.t, {d.param('jsonb')} "
            f"FROM {d.rows_from_json([('p', 'bigint'), ('t', 'bigint'), ('n', 'integer')])} "
            "WHERE TRUE ON CONFLICT DO NOTHING RETURNING id, profile_id",
            [
                version.project_id, live.journey_id, version.id, str(ACTIVE), node, str(node_state),
                2 if first else 1, d.dt(wake_at), d.dt(deadline), d.dt(now), d.dt(now), "{}",
                f"[{rows}]",
            ],
        )  # fmt: skip
        if not inserted:
            return []
        ids = [int(r[0]) for r in inserted]
        # The entry's step rows. Their details travel once each: a whole-project segment
        # shares one detail between the profiles that saw the same (a few dozen per
        # batch of thousands), so each row names its detail by number and the server
        # parses each detail once, not once per row (half the insert's time before).
        numbered: dict[int, int] = {}
        texts: list[str] = []
        blank: dict[str, Any] = {}

        def number(pid: int) -> int:
            seen = (detail or {}).get(int(pid), blank)
            if id(seen) not in numbered:
                numbered[id(seen)] = len(texts)
                texts.append(json.dumps({"entry": entry.type, **seen}, cls=DjangoJSONEncoder))
            return numbered[id(seen)]

        step_rows = ",".join(f'{{"e":{eid},"p":{pid},"k":{number(pid)}}}' for eid, pid in inserted)
        details = ",".join(f'{{"k":{k},"d":{text}}}' for k, text in enumerate(texts))
        d.fetch(
            f"INSERT INTO {steps} ({', '.join(runner.STEP_COLUMNS)}) "
            f"SELECT r.e, {d.param('bigint')}, {d.param('integer')}, r.p, {d.param('text')}, 1, "
            f"{d.param('timestamptz')}, {d.param('timestamptz')}, {d.param('text')}, 'yes', s.d "
            f"FROM {d.rows_from_json([('e', 'bigint'), ('p', 'bigint'), ('k', 'integer')])} "
            f"JOIN (SELECT r.k, r.d FROM {d.rows_from_json([('k', 'integer'), ('d', 'jsonb')])}) "
            "AS s ON s.k = r.k "
            "WHERE TRUE ON CONFLICT (enrollment_id, node, visit) DO NOTHING",
            [
                live.journey_id, version.number, entry.id, d.dt(now), d.dt(now),
                Step.Outcome.YES.value, f"[{step_rows}]", f"[{details}]",
            ],
        )  # fmt: skip
        if first is None and not version.has_goals:
            runner.exit_ids(ids, Enrollment.ExitReason.COMPLETED, now)
        if first is not None and settled is None:
            # In the entry's transaction: entering and passing the first blocks commit once.
            runner.process_arrivals(version.id, first, ids, now)
    # Users who entered also "qualified for" the entry block, for Journey Trigger entries.
    runner.qualified_for(version, {entry.id: [int(pid) for _, pid in inserted]}, now)
    return ids


# --- candidates: Inaction and Date Time entries ------------------------------------------


def add_candidates(
    live: loaders.LiveJourney,
    wakes: Mapping[int, tuple[datetime, int | None, dict[str, Any]]],
    now: datetime,
) -> int:
    """Profiles who may enter later (profile -> (wake time, trigger event, context)).

    A profile already holding a candidate keeps it (the first qualifying moment counts).
    """
    if not wakes or not live.takes_entries(now):
        return 0
    version = live.version
    # One transaction: the journey's and the profiles' rows stay locked until the
    # candidates are written (their keys carry no database constraints).
    with transaction.atomic():
        if not _hold_journey(live, live_now=False):
            return 0
        allowed, numbers = _admissible(live, list(wakes), later=True)
        if not allowed:
            return 0
        rows = [
            (
                version.project_id,
                live.journey_id,
                version.id,
                pid,
                CANDIDATE,
                version.definition.entry.id,
                Enrollment.NodeState.WAITING,
                1,
                0,
                numbers[pid],
                dt_param(wakes[pid][0]),
                None,
                None,
                None,
                None,
                "",
                "",
                wakes[pid][1],
                json_param(wakes[pid][2]),
            )
            for pid in allowed
        ]
        return len(
            insert_returning(
                Enrollment._meta.db_table,
                ENROLLMENT_COLUMNS,
                rows,
                conflict="DO NOTHING",
                returning="id",
                types=ENROLLMENT_TYPES,
            )
        )


def activate_candidates(
    ids: Sequence[int] | None = None,
    now: datetime | None = None,
    *,
    journey_id: int | None = None,
    limit: int = 5000,
) -> int:
    """Candidates whose time came enter the journey now (if still admissible): the given
    ones, or up to ``limit`` due ones of ``journey_id``."""
    now = now or timezone.now()
    due = Q(state=CANDIDATE, wake_at__lte=now) & Q(journey__status="live")
    due &= Q(id__in=ids) if ids is not None else Q(journey_id=journey_id)
    with transaction.atomic():
        rows = runner.load_rows(due, order="wake_at", limit=limit)
        if not rows:
            return 0
        # Consumed: the stay that starts now is a new row (enroll, below).
        Enrollment.objects.filter(id__in=[r.id for r in rows]).update(
            state=Enrollment.State.CANCELLED, wake_at=None, revision=F("revision") + 1
        )
    entered = 0
    by_journey: dict[int, list[runner.Row]] = defaultdict(list)
    for row in rows:
        by_journey[row.journey_id].append(row)
    for journey_id, group in by_journey.items():
        index = loaders.trigger_index(group[0].project_id)
        live = index.journeys.get(journey_id)
        if live is None:
            continue
        entered += len(
            enroll(
                live,
                {r.profile_id: r.trigger_event_id for r in group},
                now,
                detail={r.profile_id: r.context for r in group},
            )
        )
    return entered


def cancel_candidates(
    journey_id: int, profile_ids: Sequence[int], *, event_ts: Mapping[int, datetime] | None = None
) -> int:
    """Inaction entry: the user did the 'not' event after the first one, so never enters."""
    qs = Enrollment.objects.filter(
        journey_id=journey_id, profile_id__in=profile_ids, state=CANDIDATE
    )
    cancel = []
    for enrollment_id, profile_id, context in qs.values_list("id", "profile_id", "context"):
        started = (context or {}).get("first_event_at")
        ts = (event_ts or {}).get(profile_id)
        if started and ts is not None and ts.isoformat() < started:
            continue  # the 'not' event happened before the first event: it does not count
        cancel.append(enrollment_id)
    return Enrollment.objects.filter(id__in=cancel, state=CANDIDATE).update(
        state=Enrollment.State.CANCELLED, wake_at=None, revision=F("revision") + 1
    )


ENTRY_BATCH = 5000  # users entered per transaction by a whole-project entry check
# Connections entering a check's batches at once (PostgreSQL, when not inside a caller's
# transaction). The database server's work per user is most of an entry's cost, so a
# second connection puts a second core to work; each batch is still its own transaction.
ENTRY_WORKERS = 2


def enter_segment(
    live: loaders.LiveJourney, segment: Iterable[list[tuple[int, Any]]], now: datetime
) -> int:
    """Enter the profiles of a whole-project segment (chunks of (profile id, detail)) in
    batches of ``ENTRY_BATCH``, each batch its own short transaction: ingest and moves are
    never held behind one long transaction. The batches are set-based (``enroll``), and
    ``ENTRY_WORKERS`` connections enter them side by side (each profile is in one batch).

    Safe to run again for the same moment ``now`` (a worker killed mid-start, the task
    redelivered): a profile that entered at or after ``now`` is not entered again, so the
    rerun resumes with the profiles the first run did not reach, whichever batches
    committed. The check stops at the first batch that finds the journey no longer live at
    this version (paused, stopped or republished mid-way).
    """
    batches = _batches(segment)
    # Other connections can only write at the same time on a database that locks rows
    # (not SQLite), and cannot join a transaction the caller holds open.
    side_by_side = dialect().concurrent_writers and not connection.in_atomic_block
    if ENTRY_WORKERS > 1 and side_by_side:
        return _enter_side_by_side(live, batches, now, ENTRY_WORKERS)
    entered = 0
    for batch in batches:
        count = _enter_batch(live, batch, now)
        if count is None:
            break
        entered += count
    return entered


def _batches(segment: Iterable[list[tuple[int, Any]]]) -> Iterator[list[tuple[int, Any]]]:
    pending: list[tuple[int, Any]] = []
    for chunk in segment:
        pending.extend(chunk)
        while len(pending) >= ENTRY_BATCH:
            batch, pending = pending[:ENTRY_BATCH], pending[ENTRY_BATCH:]
            yield batch
    if pending:
        yield pending


def _enter_side_by_side(
    live: loaders.LiveJourney,
    batches: Iterator[list[tuple[int, Any]]],
    now: datetime,
    workers: int,
) -> int:
    """``workers`` threads (this one and helpers, each on its own database connection)
    take the next batch until none is left. A batch that fails or finds the journey no
    longer live stops the others after their current batch; the failure is raised once
    they have finished (what they committed stays: a rerun resumes after it)."""
    taking = threading.Lock()
    stop = threading.Event()

    def take() -> list[tuple[int, Any]] | None:
        with taking:
            return None if stop.is_set() else next(batches, None)

    def work() -> int:
        entered = 0
        try:
            while (batch := take()) is not None:
                count = _enter_batch(live, batch, now)
                if count is None:
                    stop.set()
                    break
                entered += count
        except BaseException:
            stop.set()
            raise
        return entered

    def helper() -> int:
        try:
            return work()
        finally:
            connections.close_all()  # the helper thread's own connection

    with ThreadPoolExecutor(max_workers=workers - 1, thread_name_prefix="enter") as pool:
        helpers = [pool.submit(helper) for _ in range(workers - 1)]
        entered = work()
        return entered + sum(future.result() for future in helpers)


def _enter_batch(
    live: loaders.LiveJourney, batch: list[tuple[int, Any]], now: datetime
) -> int | None:
    """Users entered by one batch; None when the journey no longer takes this check's
    entries (the rest of the check is skipped)."""
    ids = enroll(
        live,
        dict.fromkeys(pid for pid, _ in batch),
        now,
        detail=dict(batch),
        once_since=now,
        live_now=True,
    )
    if not ids and not _live_at(live):
        return None
    return len(ids)


def _live_at(live: loaders.LiveJourney) -> bool:
    """The journey is live at ``live``'s version now."""
    journeys = apps.get_model("builder", "Journey")._default_manager  # engine stays below builder
    return bool(
        journeys.filter(id=live.journey_id, status="live", live_version_id=live.version.id).exists()
    )


def check_moment(journey_id: int, now: datetime) -> datetime:
    """The moment a due entry check evaluates: the slot the ticker handed out (it moved
    ``next_entry_check_at`` one day past it), so that a rerun of the same check (the task
    redelivered after a crash) evaluates the same moment and resumes where it stopped.
    ``now`` when the check was not handed out by the ticker."""
    journeys = apps.get_model("builder", "Journey")._default_manager  # engine stays below builder
    due = journeys.filter(id=journey_id).values_list("next_entry_check_at", flat=True).first()
    if due is None or due <= now:
        return now
    slot = due - timedelta(days=1)
    return slot if slot <= now else now


def past_behaviour_entry(live: loaders.LiveJourney, now: datetime) -> int:
    """The scheduled evaluation of a journey's entry over every profile of the project."""
    from engine.blocks import handler

    return handler(live.entry.type).entry_check(live, check_moment(live.journey_id, now))


__all__ = [
    "activate_candidates",
    "add_candidates",
    "cancel_candidates",
    "check_moment",
    "enroll",
    "enter_segment",
    "past_behaviour_entry",
]
