"""Entries into journeys: re-entry rules, candidates (Inaction, Date Time) and Past Behaviour entry.

``enroll`` is the one door into a journey: it applies the re-entry rule (once ever
by default; with re-entry, again after exiting), never lets a user in twice at once
(a partial unique index does, so concurrent enrollers cannot race), logs the entry
step and moves the new users on to the first block, all in one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from engine import loaders, runner
from engine.models import Enrollment, Step
from engine.sql import dt_param, insert_returning, json_param

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
    live: loaders.LiveJourney, profile_ids: Sequence[int], *, later: bool = False
) -> tuple[list[int], dict[int, int]]:
    """Profiles allowed in, and each one's entry number.

    ``later`` is for candidates, who enter some time from now: only the once-ever rule
    applies then; "not in the journey at this moment" is checked when they enter.
    """
    history: dict[int, int] = {}
    active: set[int] = set()
    for profile_id, stays, now_in in (
        Enrollment.objects.filter(journey_id=live.journey_id, profile_id__in=profile_ids)
        .exclude(state__in=[CANDIDATE, Enrollment.State.CANCELLED])
        .values("profile_id")
        .annotate(n=Count("id"), active=Count("id", filter=Q(state=ACTIVE)))
        .values_list("profile_id", "n", "active")
    ):
        history[profile_id] = stays
        if now_in:
            active.add(profile_id)
    allow_reentry = live.version.definition.settings.allow_reentry
    allowed = [
        pid
        for pid in profile_ids
        if (later or pid not in active) and (allow_reentry or history.get(pid, 0) == 0)
    ]
    return allowed, {pid: history.get(pid, 0) + 1 for pid in allowed}


def enroll(
    live: loaders.LiveJourney,
    triggers: Mapping[int, int | None],
    now: datetime,
    *,
    detail: Mapping[int, dict[str, Any]] | None = None,
) -> list[int]:
    """Enter profiles (profile id -> triggering event id) into a live journey.

    Returns the new enrollment ids. Safe to repeat: users already in are skipped.
    """
    if not triggers or not live.takes_entries(now):
        return []
    version = live.version
    definition = version.definition
    entry = definition.entry
    with transaction.atomic():
        allowed, numbers = _admissible(live, list(triggers))
        if not allowed:
            return []
        first = definition.next_node(entry.id, "yes")
        conversion = definition.settings.conversion_time
        deadline = now + timedelta(seconds=conversion) if conversion else None
        node = first or entry.id
        # Arriving at a block that only starts a wait is written at once (no second pass).
        settled = runner.settled_arrival(definition.node(first), now) if first else None
        if settled is not None:
            node_state, wake_at = settled["node_state"], dt_param(settled["wake_at"])
        else:
            node_state = Enrollment.NodeState.PENDING if first else Enrollment.NodeState.DONE
            wake_at = None
        empty = json_param({})
        now_p, deadline_p = dt_param(now), dt_param(deadline)
        rows = [
            (
                version.project_id,
                live.journey_id,
                version.id,
                pid,
                ACTIVE,
                node,
                node_state,
                2 if first else 1,
                0,
                numbers[pid],
                wake_at,
                deadline_p,
                now_p,
                now_p,
                None,
                "",
                "",
                triggers[pid],
                empty,
            )
            for pid in allowed
        ]
        inserted = insert_returning(
            Enrollment._meta.db_table,
            ENROLLMENT_COLUMNS,
            rows,
            types=ENROLLMENT_TYPES,
            # The partial unique index "one active per journey and profile" turns a
            # concurrent second entry into a no-op.
            conflict="DO NOTHING",
            returning="id, profile_id",
        )
        if not inserted:
            return []
        ids = [r[0] for r in inserted]
        # The entry's step rows through the moves' set-based insert (runner.record_steps):
        # one unnest statement per 10,000 rows, not one ORM object per user.
        insert_returning(
            Step._meta.db_table,
            runner.STEP_COLUMNS,
            [
                (
                    eid, live.journey_id, version.number, pid, entry.id, 1, now_p, now_p,
                    Step.Outcome.YES.value, "yes",
                    json_param({"entry": entry.type, **((detail or {}).get(pid, {}))}),
                )
                for eid, pid in inserted
            ],
            conflict="(enrollment_id, node, visit) DO NOTHING",
            returning="id",
            types=runner.STEP_TYPES,
        )  # fmt: skip
        if first is None and not version.has_goals:
            runner.exit_ids(ids, Enrollment.ExitReason.COMPLETED, now)
        if first is not None and settled is None:
            # In the entry's transaction: entering and passing the first blocks commit once.
            runner.process_arrivals(version.id, first, ids, now)
    # Users who entered also "qualified for" the entry block, for Journey Trigger entries.
    runner.qualified_for(version, {entry.id: [pid for _, pid in inserted]}, now)
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
    allowed, numbers = _admissible(live, list(wakes), later=True)
    if not allowed:
        return 0
    version = live.version
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
    with transaction.atomic():
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


def past_behaviour_entry(live: loaders.LiveJourney, now: datetime) -> int:
    """The scheduled evaluation of a journey's entry over every profile of the project."""
    from engine.blocks import handler

    return handler(live.entry.type).entry_check(live, now)


__all__ = [
    "activate_candidates",
    "add_candidates",
    "cancel_candidates",
    "enroll",
    "past_behaviour_entry",
]
