"""Real-time event processing: entries, waiting blocks and action goals, for a batch of events.

Runs after the ingest transaction commits (a Celery task per ingest batch). Per
project, events are matched in memory against the trigger index of live journeys
(entries) and against the blocks and goals of the journeys their profiles are in
now (one query for those enrollments). Repeating it is harmless: entries respect
the one-active-enrollment rule and moves re-check the state they start from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from engine import loaders, runner
from engine.blocks import handler
from engine.domain import all_match
from engine.models import Enrollment, Event

PAGE_VIEWED = loaders.PAGE_VIEWED


def process_events(event_ids: Sequence[int]) -> None:
    events = list(
        Event.objects.filter(id__in=event_ids)
        .order_by("ts", "id")
        .only("id", "project_id", "profile_id", "name", "ts", "properties", "received_at")
    )
    by_project: dict[int, list[Event]] = defaultdict(list)
    for event in events:
        by_project[event.project_id].append(event)
    for project_id, group in by_project.items():
        process_project_events(project_id, group)


def process_project_events(project_id: int, events: list[Event]) -> None:
    now = timezone.now()
    # Users already in journeys first: goals and waiting blocks see the event before
    # it can start a new entry (so an entry's own trigger never meets its goal).
    _in_flight(project_id, events, now)
    entered = _entries(project_id, events, now)
    # Only a profile with more events in this batch can have done something after entering.
    if entered and len({e.profile_id for e in events}) < len(events):
        # The batch's later events (by event time) apply to the users it just brought in:
        # "added to cart, then bought" sent together still meets the goal.
        _in_flight(project_id, events, now, just_entered=entered)


# --- entries -------------------------------------------------------------------------------


def _entries(project_id: int, events: list[Event], now: datetime) -> list[int]:
    """Start new stays; returns the new enrollment ids."""
    index = loaders.trigger_index(project_id, fresh=True)
    names = {e.name for e in events}
    entered: list[int] = []
    seen: set[int] = set()
    for name in names & index.entries_by_event.keys():
        for live in index.entries_by_event[name]:
            if live.journey_id in seen:
                continue
            seen.add(live.journey_id)
            # Each event is judged by the journey's status when it was accepted: one
            # accepted while the journey was live enters even if a pause landed since.
            accepted = [e for e in events if live.as_of(e.received_at) is not None]
            if accepted:
                then = live.as_of(accepted[0].received_at)
                assert then is not None
                entered.extend(handler(then.entry.type).enter_on_events(then, accepted, now))
    # After this batch's candidates exist, so a purchase sent with the cart cancels it.
    for name in names & index.inaction_cancels.keys():
        for live in index.inaction_cancels[name]:
            handler(live.entry.type).after_entries(live, events, now)
    return entered


# --- users already in journeys ----------------------------------------------------------------


def _in_flight(
    project_id: int, events: list[Event], now: datetime, *, just_entered: list[int] | None = None
) -> None:
    profile_ids = {e.profile_id for e in events}
    qs = Enrollment.objects.filter(
        profile_id__in=profile_ids, state=Enrollment.State.ACTIVE, project_id=project_id
    )
    if just_entered is not None:
        qs = qs.filter(id__in=just_entered)
    by_id = {e.id: e for e in events}
    rows = list(
        qs.filter(Q(journey__status="live") | Q(journey__status="paused")).values_list(
            "id",
            "version_id",
            "node",
            "node_state",
            "node_entered_at",
            "entered_at",
            "profile_id",
            "journey__status",
            "trigger_event_id",
        )
    )
    if not rows:
        return
    by_profile: dict[int, list[Event]] = defaultdict(list)
    for e in events:
        by_profile[e.profile_id].append(e)
    goal_met: dict[int, dict[str, Any]] = {}
    # (version, block) -> waiting enrollment -> its events since it arrived there.
    waiting: dict[tuple[int, str], dict[int, list[Event]]] = defaultdict(dict)
    for (
        enrollment_id,
        version_id,
        node,
        node_state,
        node_entered_at,
        entered_at,
        profile_id,
        status,
        trigger_id,
    ) in rows:
        version = loaders.version(version_id)
        trigger = by_id.get(trigger_id) if trigger_id else None
        if just_entered is not None:
            # Entered from this batch: what the user did after the triggering event counts.
            after_entry = [
                e
                for e in by_profile[profile_id]
                if trigger is None or (e.ts, e.id) > (trigger.ts, trigger.id)
            ]
        else:
            # Only what arrived after the user got there counts (server time), and never
            # the event that brought them in.
            after_entry = [
                e
                for e in by_profile[profile_id]
                if e.id != trigger_id and (entered_at is None or e.received_at >= entered_at)
            ]
        for goal in version.action_goals:
            hit = next(
                (
                    e
                    for e in after_entry
                    if e.name == goal.event and all_match(goal.where, e.properties or {})
                ),
                None,
            )
            if hit is not None:
                goal_met[enrollment_id] = {"goal": goal.id, "event": hit.name, "event_id": hit.id}
                break
        if (
            enrollment_id in goal_met
            or status != "live"
            or node_state != Enrollment.NodeState.WAITING
        ):
            continue
        block = version.definition.nodes.get(node)
        if block is None:
            continue
        after_arrival = (
            after_entry
            if just_entered is not None
            else [
                e
                for e in after_entry
                if node_entered_at is None or e.received_at >= node_entered_at
            ]
        )
        if not after_arrival:
            continue
        waiting[(version_id, node)][enrollment_id] = after_arrival
    if goal_met:
        _exit_goal_met(goal_met, now)
    for (version_id, node), seen in waiting.items():
        block = loaders.version(version_id).definition.nodes[node]
        # One call per block for all its waiting users (set-based, e.g. one count query).
        outcomes = handler(block.type).on_events(block, seen)
        outcomes = {k: v for k, v in outcomes.items() if k not in goal_met}
        if outcomes:
            _decide(version_id, node, outcomes, now)


def _exit_goal_met(goal_met: dict[int, dict[str, Any]], now: datetime) -> None:
    with transaction.atomic():
        rows = runner.load_rows(Q(id__in=list(goal_met), state=Enrollment.State.ACTIVE))
        versions = {r.version_id: loaders.version(r.version_id) for r in rows}
        runner.exit_rows(versions, rows, Enrollment.ExitReason.GOAL_MET, now, detail=goal_met)


def _decide(version_id: int, node: str, outcomes: dict[int, runner.Outcome], now: datetime) -> None:
    version = loaders.version(version_id)
    with transaction.atomic():
        rows = runner.load_rows(
            Q(
                id__in=list(outcomes),
                version_id=version_id,
                node=node,
                state=Enrollment.State.ACTIVE,
                node_state=Enrollment.NodeState.WAITING,
            )
        )
        following = (
            runner.leave(version, rows, {r.id: outcomes[r.id] for r in rows}, now) if rows else {}
        )
    for target, ids in following.items():
        runner.process_arrivals(version_id, target, ids)
