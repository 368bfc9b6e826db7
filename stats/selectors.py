"""Reads behind the stats: occupancy, attribution figures, profile timelines, the message log
and the segment/campaign block reports. Every figure is an aggregate query grouped by block,
never a query per block or per user; permissions are checked by the callers' selectors
(``journey_get_for_user``, ``membership_get``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta, tzinfo
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from builder.in_flight import blocks_of
from builder.models import Journey, JourneyVersion
from engine import loaders
from engine.domain import DefinitionInvalid, MessageBlock, TemplateError, block_type, kind_of
from engine.domain import parse_definition as _parse_definition
from engine.models import Enrollment, Event, Message, Profile, ProfileAlias, Step
from engine.selectors import NotFound, membership_get

__all__ = [
    "STATUSES",
    "JourneyShape",
    "NotFound",
    "block_get",
    "campaign_failures",
    "campaign_recipients",
    "campaign_report",
    "condition_words",
    "duration_words",
    "journey_messages",
    "journey_occupancy",
    "journey_series",
    "journey_shape",
    "journey_stats",
    "journey_stuck",
    "journey_summary",
    "profile_resolve",
    "profile_timeline",
    "project_zone",
    "segment_branches",
    "segment_report",
    "stay_counts",
    "step_counts",
    "stuck_profiles",
]

User = AbstractBaseUser | AnonymousUser

ACTIVE = Enrollment.State.ACTIVE
EXITED = Enrollment.State.EXITED
DONE = Enrollment.NodeState.DONE
GOAL_MET = Enrollment.ExitReason.GOAL_MET
TIME_OUT = Enrollment.ExitReason.TIME_OUT
COMPLETED = Enrollment.ExitReason.COMPLETED
SAMPLE_SIZE = 20


# -- the journey as the stats see it --------------------------------------------------------


@dataclass(frozen=True)
class JourneyShape:
    """What the figures are judged on: the blocks, types and settings of the LIVE version
    (the working draft for a journey never published)."""

    version_id: int | None
    version_number: int | None
    entry_id: str | None
    blocks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    segments: frozenset[str] = frozenset()
    # Blocks whose kind names its own branches (Split): block id -> branch names.
    named_branches: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    has_goals: bool = False
    has_conversion_time: bool = False

    @property
    def block_ids(self) -> tuple[str, ...]:
        return tuple(self.blocks)

    def block_type(self, node: str) -> str | None:
        raw = self.blocks.get(node)
        value = raw.get("type") if raw else None
        return value if isinstance(value, str) else None


def _category(raw: Mapping[str, Any] | None) -> str | None:
    """``segment``, ``message`` or ``flow`` for a raw block (None for an unknown type)."""
    type_ = raw.get("type") if raw else None
    bt = block_type(type_) if isinstance(type_, str) else None
    return bt.category if bt else None


def _segments(blocks: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    return frozenset(node for node, raw in blocks.items() if _category(raw) == "segment")


def _named_branches(definition: Any) -> dict[str, tuple[str, ...]]:
    """Blocks whose kind names its branches in the block's data, with those names."""
    out: dict[str, tuple[str, ...]] = {}
    for node, block in definition.nodes.items():
        kind = kind_of(block)
        if kind.branches_of is not None:
            out[node] = kind.block_branches(block)
    return out


def journey_shape(journey: Journey) -> JourneyShape:
    live = journey.live_version
    if live is not None:
        definition = loaders.version(live.pk).definition
        raw = live.definition
        number: int | None = live.number
        has_goals = bool(definition.goals)
        has_conversion = definition.settings.conversion_time is not None
        entry_id: str | None = definition.entry.id
        named = _named_branches(definition)
    else:
        raw = journey.definition
        number = None
        try:
            parsed = _parse_definition(raw)
        except (DefinitionInvalid, ValueError, TypeError):
            parsed = None
        has_goals = bool(parsed.goals) if parsed else False
        has_conversion = bool(parsed and parsed.settings.conversion_time is not None)
        entry_id = parsed.entry.id if parsed else None
        named = _named_branches(parsed) if parsed else {}
    blocks = blocks_of(raw)
    return JourneyShape(
        version_id=live.pk if live else None,
        version_number=number,
        entry_id=entry_id,
        blocks=blocks,
        segments=_segments(blocks),
        named_branches=named,
        has_goals=has_goals,
        has_conversion_time=has_conversion,
    )


# -- occupancy ------------------------------------------------------------------------------


def _active(journey: Journey) -> QuerySet[Enrollment]:
    # Grouped by node, served by the partial index enrollment_occupancy (journey, node)
    # WHERE state = active.
    return Enrollment.objects.filter(journey=journey, state=ACTIVE).order_by()


def journey_occupancy(*, journey: Journey, shape: JourneyShape | None = None) -> dict[str, Any]:
    """Users in the journey now (every version), by the block they are at: every block of the
    live version (0 when empty) plus any block of an older version that still holds users."""
    shape = shape or journey_shape(journey)
    nodes = dict.fromkeys(shape.block_ids, 0)
    for node, users in (
        _active(journey).values("node").annotate(users=Count("*")).values_list("node", "users")
    ):
        nodes[node] = nodes.get(node, 0) + users
    return {"nodes": nodes, "total": sum(nodes.values())}


# -- historical stats -----------------------------------------------------------------------


def _pct(part: int | None, whole: int) -> float:
    if not whole or part is None:
        return 0.0
    return round(part * 100.0 / whole, 2)


def journey_stats(*, journey: Journey, frame: Any) -> dict[str, Any]:
    """Entry, exits by reason and per-block figures over ``frame`` (a ``stats.frames.Frame``).

    Entries and exits (``stay_counts``), steps by block and branch (``step_counts``), and
    users in the journey now by block; on PostgreSQL the first two read hourly rollups. Availability follows PRODUCT §5 on the live version.
    """
    shape = journey_shape(journey)
    goals, conversion = shape.has_goals, shape.has_conversion_time
    entry_count, exits = stay_counts(journey=journey, frame=frame)
    summary_row: dict[str, int] = {
        "entry": entry_count,
        **{str(r): sum(by.get(r, 0) for by in exits.values()) for r in EXIT_REASONS},
    }
    # Per block and branch taken (yes/no out of a segment block, a Split's named
    # branches, "" for one way out or an exit): one grouped query.
    steps: dict[str, dict[str, int]] = defaultdict(lambda: {"entered": 0, "yes": 0, "no": 0})
    per_branch: dict[str, dict[str, int]] = defaultdict(dict)
    for node, branch, n in step_counts(journey=journey, frame=frame):
        steps[node]["entered"] += n
        if branch in ("yes", "no"):
            steps[node][branch] += n
        if branch:
            per_branch[node][branch] = n
    # Two grouped queries, each answered from its own partial index without reading the
    # table: users at each block now (enrollment_occupancy), and those of them who have no
    # step there yet (still at the block: the step is written when they leave; users
    # parked at a path end, "done", already have theirs) and arrived in the frame
    # (stats_enrollment_active, stats migration 0004).
    here: dict[str, dict[str, int]] = defaultdict(lambda: {"current": 0, "arrived": 0})
    for node, n in _active(journey).values("node").annotate(n=Count("*")).values_list("node", "n"):
        here[node]["current"] = n
    for node, n in (
        _active(journey)
        .filter(frame.q("node_entered_at"))
        .exclude(node_state=DONE)
        .values("node")
        .annotate(n=Count("*"))
        .values_list("node", "n")
    ):
        here[node]["arrived"] = n

    def available(value: int, shown: bool) -> int | None:
        return value if shown else None

    entry = summary_row["entry"]
    summary: dict[str, Any] = {
        "entry": entry,
        "goal_met": available(summary_row["goal_met"], goals),
        "time_out": available(summary_row["time_out"], conversion),
        "completed": available(summary_row["completed"], not goals),
    }
    summary["conversion_pct"] = _pct(summary["goal_met"] if goals else summary["completed"], entry)

    nodes: dict[str, dict[str, Any]] = {}
    for node in shape.block_ids:
        s, e, h = steps.get(node, {}), exits.get(node, {}), here.get(node, {})
        is_segment = node in shape.segments
        entered = entry if node == shape.entry_id else s.get("entered", 0) + h.get("arrived", 0)
        nodes[node] = {
            "entered": entered,
            "current": h.get("current", 0),
            "goal_met": available(e.get("goal_met", 0), goals),
            "time_out": available(e.get("time_out", 0), conversion),
            "completed": available(e.get("completed", 0), not goals),
            "yes": available(s.get("yes", 0), is_segment),
            "no": available(s.get("no", 0), is_segment),
        }
        if node in shape.named_branches:
            counts = per_branch.get(node, {})
            nodes[node]["branches"] = {b: counts.get(b, 0) for b in shape.named_branches[node]}
    return {"summary": summary, "nodes": nodes}


# -- steps per block and branch: from the hourly rollup on PostgreSQL ------------------------

FOLD = """
WITH gone AS (
    DELETE FROM stats_stephour WHERE journey_id = %(journey)s AND fresh
    RETURNING node, branch, hour, n
)
INSERT INTO stats_stephour (journey_id, node, branch, hour, n, fresh)
SELECT %(journey)s, node, branch, hour, sum(n), false FROM gone
GROUP BY node, branch, hour ORDER BY node, branch, hour
ON CONFLICT (journey_id, node, branch, hour) WHERE NOT fresh
DO UPDATE SET n = stats_stephour.n + EXCLUDED.n
"""


def _raw_step_counts(journey: Journey, frame: Any) -> list[tuple[str, str, int]]:
    return list(
        Step.objects.filter(frame.q("entered_at"), journey=journey)
        .order_by()
        .values("node", "branch")
        .annotate(n=Count("id"))
        .values_list("node", "branch", "n")
    )


def _fold(journey: Journey) -> None:
    """Fold the journey's fresh rollup rows into its settled ones, unless another request
    is folding them now (the sum over fresh and settled rows is exact either way)."""
    from django.db import connection, transaction

    from stats.models import EnrollmentHour, StepHour

    steps = StepHour.objects.filter(journey_id=journey.pk, fresh=True).exists()
    stays = EnrollmentHour.objects.filter(journey_id=journey.pk, fresh=True).exists()
    if not (steps or stays):
        return
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [0x57A7, journey.pk])
        row = cur.fetchone()
        if not (row and row[0]):
            return
        if steps:
            cur.execute(FOLD, {"journey": journey.pk})
        if stays:
            cur.execute(FOLD_STAYS, {"journey": journey.pk})


def _hour_split(frame: Any) -> tuple[Any, Any, list[Any]] | None:
    """The frame's whole UTC hours ``[inner_start, inner_end)`` (None: open) and the partial
    hours at its edges as frames; None when the frame holds no whole hour."""
    from stats.frames import Frame

    start, end = frame.start, frame.end

    def floor(moment: Any) -> Any:
        return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)

    inner_start = None
    if start is not None:
        inner_start = floor(start) if start == floor(start) else floor(start) + timedelta(hours=1)
    inner_end = None if end is None else floor(end)
    if inner_start is not None and inner_end is not None and inner_start >= inner_end:
        return None
    edges = []
    if start is not None and inner_start is not None and start < inner_start:
        edges.append(Frame(start, inner_start))
    if end is not None and inner_end is not None and inner_end < end:
        edges.append(Frame(inner_end, end))
    return inner_start, inner_end, edges


def _rolled(qs: Any, inner_start: Any, inner_end: Any) -> Any:
    if inner_start is not None:
        qs = qs.filter(hour__gte=inner_start)
    if inner_end is not None:
        qs = qs.filter(hour__lt=inner_end)
    return qs.order_by()


def _use_rollups() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def step_counts(*, journey: Journey, frame: Any) -> list[tuple[str, str, int]]:
    """Steps of the journey by (block, branch) whose ``entered_at`` is in the frame.

    On PostgreSQL the whole hours of the frame are read from the hourly rollup
    (``stats.models.StepHour``, kept by triggers on the step log) and only the partial
    hours at its edges from the step log itself, so the cost follows the number of blocks
    and hours, not of steps. Elsewhere (SQLite) the step log is counted directly."""
    from stats.models import StepHour

    split = _hour_split(frame) if _use_rollups() else None
    if split is None:
        return _raw_step_counts(journey, frame)
    inner_start, inner_end, edges = split
    _fold(journey)
    totals: dict[tuple[str, str], int] = defaultdict(int)
    rolled = _rolled(StepHour.objects.filter(journey_id=journey.pk), inner_start, inner_end)
    for node, branch, n in (
        rolled.values("node", "branch").annotate(n=Sum("n")).values_list("node", "branch", "n")
    ):
        totals[(node, branch)] += int(n or 0)
    for edge in edges:
        for node, branch, n in _raw_step_counts(journey, edge):
            totals[(node, branch)] += n
    return [(node, branch, n) for (node, branch), n in totals.items() if n]


FOLD_STAYS = """
WITH gone AS (
    DELETE FROM stats_enrollmenthour WHERE journey_id = %(journey)s AND fresh
    RETURNING kind, node, reason, hour, n
)
INSERT INTO stats_enrollmenthour (journey_id, kind, node, reason, hour, n, fresh)
SELECT %(journey)s, kind, node, reason, hour, sum(n), false FROM gone
GROUP BY kind, node, reason, hour ORDER BY kind, node, reason, hour
ON CONFLICT (journey_id, kind, node, reason, hour) WHERE NOT fresh
DO UPDATE SET n = stats_enrollmenthour.n + EXCLUDED.n
"""

EXIT_REASONS = (GOAL_MET, TIME_OUT, COMPLETED)


def _raw_stay_counts(journey: Journey, frame: Any) -> tuple[int, dict[str, dict[str, int]]]:
    enrollments = Enrollment.objects.filter(journey=journey).order_by()
    entry = enrollments.filter(frame.q("entered_at"), state__in=[ACTIVE, EXITED]).count()
    exits: dict[str, dict[str, int]] = defaultdict(dict)
    for node, reason, n in (
        enrollments.filter(frame.q("exited_at"), state=EXITED, exit_reason__in=EXIT_REASONS)
        .values("exit_node", "exit_reason")
        .annotate(n=Count("id"))
        .values_list("exit_node", "exit_reason", "n")
    ):
        exits[node][reason] = n
    return entry, dict(exits)


def stay_counts(*, journey: Journey, frame: Any) -> tuple[int, dict[str, dict[str, int]]]:
    """Entries in the frame, and exits in the frame by exit block and reason (Goal Met,
    Time Out, Completed). On PostgreSQL whole hours come from ``EnrollmentHour`` and only
    the partial edge hours from the enrollments themselves."""
    from stats.models import EnrollmentHour

    split = _hour_split(frame) if _use_rollups() else None
    if split is None:
        return _raw_stay_counts(journey, frame)
    inner_start, inner_end, edges = split
    _fold(journey)
    entry = 0
    exits: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rolled = _rolled(EnrollmentHour.objects.filter(journey_id=journey.pk), inner_start, inner_end)
    for kind, node, reason, n in (
        rolled.values("kind", "node", "reason")
        .annotate(n=Sum("n"))
        .values_list("kind", "node", "reason", "n")
    ):
        if kind == "entry":
            entry += int(n or 0)
        else:
            exits[node][reason] += int(n or 0)
    for edge in edges:
        edge_entry, edge_exits = _raw_stay_counts(journey, edge)
        entry += edge_entry
        for node, reasons in edge_exits.items():
            for reason, n in reasons.items():
                exits[node][reason] += n
    return entry, {
        node: {reason: n for reason, n in by.items() if n}
        for node, by in exits.items()
        if any(by.values())
    }


# -- profiles and their timeline ------------------------------------------------------------


def profile_resolve(*, project_id: int, external_id: str) -> Profile:
    """The profile an external id means now: aliases first (an anonymous visitor who
    identified), as ingest resolves them; NotFound when there is none."""
    alias = (
        ProfileAlias.objects.select_related("profile")
        .filter(project_id=project_id, alias=external_id)
        .first()
    )
    if alias is not None:
        return alias.profile
    profile = Profile.objects.filter(project_id=project_id, external_id=external_id).first()
    if profile is None:
        raise NotFound("profile")
    return profile


def _version_blocks(
    pairs: Iterable[tuple[int, int]],
) -> dict[tuple[int, int], dict[str, Mapping[str, Any]]]:
    """(journey id, version number) -> its blocks by id, for the pairs asked (one query)."""
    wanted = set(pairs)
    if not wanted:
        return {}
    q = Q()
    for journey_id, number in wanted:
        q |= Q(journey_id=journey_id, number=number)
    rows = JourneyVersion.objects.filter(q).values_list("journey_id", "number", "definition")
    return {(j, n): blocks_of(raw) for j, n, raw in rows}


def _message_dict(message: Message | None) -> dict[str, Any] | None:
    if message is None:
        return None
    return {
        "id": message.pk,
        "channel": message.channel,
        "status": message.status,
        "attempts": message.attempts,
        "error": message.error,
        "sent_at": message.sent_at,
        # Quiet hours (engine/limits.py): "held for quiet hours until ..." when it waited.
        "held": (message.delivery or {}).get("held", ""),
    }


def _type_of(blocks: Mapping[str, Mapping[str, Any]] | None, node: str) -> str | None:
    raw = (blocks or {}).get(node)
    value = raw.get("type") if raw else None
    return value if isinstance(value, str) else None


def profile_timeline(*, user: User, project_id: int, external_id: str) -> dict[str, Any]:
    """Every journey the profile was (or is) in, newest stay first, with each block it
    passed, the path taken and why, and the message sent there. Five queries whatever the
    history's size. NotFound unless the caller is a member of the project."""
    membership_get(user=user, project_id=project_id)
    profile = profile_resolve(project_id=project_id, external_id=external_id)
    enrollments = list(
        Enrollment.objects.filter(profile=profile)
        .exclude(state=Enrollment.State.CANCELLED)
        .select_related("journey")
        .annotate(version_number=F("version__number"))
        .order_by("-id")
    )
    ids = [e.pk for e in enrollments]
    steps_by: dict[int, list[Step]] = defaultdict(list)
    for step in Step.objects.filter(enrollment_id__in=ids).order_by("id"):
        steps_by[step.enrollment_id].append(step)
    messages = {
        (m.enrollment_id, m.node, m.visit): m for m in Message.objects.filter(enrollment_id__in=ids)
    }
    pairs = {(s.journey_id, s.version_number) for group in steps_by.values() for s in group}
    pairs |= {(e.journey_id, e.version_number) for e in enrollments}
    blocks = _version_blocks(pairs)

    journeys = []
    for e in enrollments:
        items = [
            {
                "node": s.node,
                "type": _type_of(blocks.get((s.journey_id, s.version_number)), s.node),
                "version": s.version_number,
                "entered_at": s.entered_at,
                "left_at": s.left_at,
                "path": s.outcome or None,
                "why": s.detail,
                "message": _message_dict(messages.get((e.pk, s.node, s.visit))),
                "current": False,
            }
            for s in steps_by.get(e.pk, [])
        ]
        if e.state == ACTIVE and e.node_state != DONE:
            items.append(
                {
                    "node": e.node,
                    "type": _type_of(blocks.get((e.journey_id, e.version_number)), e.node),
                    "version": e.version_number,
                    "entered_at": e.node_entered_at,
                    "left_at": None,
                    "path": None,
                    "why": e.context or {},
                    "message": _message_dict(messages.get((e.pk, e.node, e.visit))),
                    "current": True,
                }
            )
        journeys.append(
            {
                "journey": e.journey_id,
                "name": e.journey.name,
                "version": e.version_number,
                "state": e.state,
                "entry_number": e.entry_number,
                "entered_at": e.entered_at,
                "exited_at": e.exited_at,
                "exit_reason": e.exit_reason or None,
                "exit_node": e.exit_node or None,
                "current_node": e.node if e.state == ACTIVE else None,
                "steps": items,
            }
        )
    return {"profile_id": profile.external_id, "journeys": journeys}


# -- the message log ------------------------------------------------------------------------


def journey_messages(
    *,
    journey: Journey,
    profile_id: str | None = None,
    node: str | None = None,
    status: str | None = None,
) -> QuerySet[Message]:
    """The journey's outbox rows, newest first, optionally for one profile (external id,
    aliases followed), block or status. An unknown profile gives no rows."""
    qs = Message.objects.filter(journey=journey).select_related("profile").order_by("-id")
    if profile_id:
        try:
            profile = profile_resolve(project_id=journey.project_id, external_id=profile_id)
        except NotFound:
            return qs.none()
        qs = qs.filter(profile=profile)
    if node:
        qs = qs.filter(node=node)
    if status:
        qs = qs.filter(status=status)
    return qs


# -- block reports (segment and campaign details pages) -------------------------------------


def project_zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _days(frame: Any, zone: tzinfo, seen: Iterable[date]) -> list[date]:
    """Every day of the frame in ``zone`` (bounded frames), or the days that have data."""
    seen = sorted(set(seen))
    if frame.start is None:
        return seen
    first = frame.start.astimezone(zone).date()
    end = frame.end or timezone.now()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    if (last - first).days > 366:
        return seen
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def block_get(shape: JourneyShape, node: str, category: str) -> Mapping[str, Any]:
    """A block of the live version of the given category (segment or message), else NotFound."""
    raw = shape.blocks.get(node)
    if shape.version_id is None or raw is None or _category(raw) != category:
        raise NotFound("block")
    return raw


def _raw_node_days(
    journey: Journey, node: str, frame: Any, zone: tzinfo
) -> dict[date, dict[str, int]]:
    out: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for day, branch, n in (
        Step.objects.filter(frame.q("entered_at"), journey=journey, node=node)
        .order_by()
        .annotate(day=TruncDate("entered_at", tzinfo=zone))
        .values("day", "branch")
        .annotate(n=Count("id"))
        .values_list("day", "branch", "n")
    ):
        out[day][branch] += n
    return out


def _node_days(journey: Journey, node: str, frame: Any, zone: tzinfo) -> dict[date, dict[str, int]]:
    """Steps at one block per day (project zone) and branch; from the hourly rollup on
    PostgreSQL for whole-hour zones (partial edge hours from the step log)."""
    from stats.models import StepHour

    split = _hour_split(frame) if _use_rollups() and _whole_hour_zone(zone, frame) else None
    if split is None:
        return _raw_node_days(journey, node, frame, zone)
    inner_start, inner_end, edges = split
    _fold(journey)
    out: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rolled = _rolled(
        StepHour.objects.filter(journey_id=journey.pk, node=node), inner_start, inner_end
    )
    for branch, hour, n in (
        rolled.values("branch", "hour").annotate(n=Sum("n")).values_list("branch", "hour", "n")
    ):
        out[hour.astimezone(zone).date()][branch] += int(n or 0)
    for edge in edges:
        for day, branches in _raw_node_days(journey, node, edge, zone).items():
            for branch, n in branches.items():
                out[day][branch] += n
    return {d: dict(b) for d, b in out.items() if any(b.values())}


def segment_report(*, journey: Journey, node: str, frame: Any) -> dict[str, Any]:
    """A segment block of the live version: its definition, evaluated / yes / no per day
    (project time zone) over the frame, and the latest profiles that went yes."""
    shape = journey_shape(journey)
    raw = block_get(shape, node, "segment")
    zone = project_zone(journey.project.timezone)
    steps = Step.objects.filter(frame.q("entered_at"), journey=journey, node=node).order_by()
    rows: dict[date, dict[str, int]] = {}
    for day, branches in _node_days(journey, node, frame, zone).items():
        rows[day] = {
            "evaluated": sum(branches.values()),
            "yes": branches.get("yes", 0),
            "no": branches.get("no", 0),
        }
    days: list[dict[str, Any]] = [
        {
            "day": d,
            "evaluated": rows.get(d, {}).get("evaluated", 0),
            "yes": rows.get(d, {}).get("yes", 0),
            "no": rows.get(d, {}).get("no", 0),
        }
        for d in _days(frame, zone, rows)
    ]
    sample = [
        {"profile_id": ext, "at": left_at or entered_at, "why": detail, "version": number}
        for ext, entered_at, left_at, detail, number in steps.filter(outcome=Step.Outcome.YES)
        .order_by("-entered_at", "-id")
        .values_list("profile__external_id", "entered_at", "left_at", "detail", "version_number")[
            :SAMPLE_SIZE
        ]
    ]
    bt = block_type(str(raw.get("type")))
    return {
        "node": node,
        "block": raw,
        "label": bt.label if bt else raw.get("type"),
        "is_entry": node == shape.entry_id,
        "version": shape.version_number,
        "days": days,
        "totals": {k: sum(int(d[k]) for d in days) for k in ("evaluated", "yes", "no")},
        "sample": sample,
        "condition": condition_words(raw),
        "branches": segment_branches(journey=journey, node=node, frame=frame, zone=zone),
    }


STATUSES = tuple(Message.Status.values)


def campaign_report(
    *, journey: Journey, node: str, frame: Any, profile_id: str | None = None
) -> dict[str, Any]:
    """A message block of the live version: the message rendered for a sample profile (the
    one asked for, else the latest recipient) and sent / failed / skipped / queued per day."""
    shape = journey_shape(journey)
    raw = block_get(shape, node, "message")
    zone = project_zone(journey.project.timezone)
    messages = Message.objects.filter(frame.q("created_at"), journey=journey, node=node).order_by()
    rows = {
        r["day"]: r
        for r in messages.annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day")
        .annotate(**{s: Count("id", filter=Q(status=s)) for s in STATUSES})
    }
    days = [
        {"day": d, **{s: rows.get(d, {}).get(s, 0) for s in STATUSES}}
        for d in _days(frame, zone, rows)
    ]

    profile: Profile | None = None
    event: Event | None = None
    if profile_id:
        try:
            profile = profile_resolve(project_id=journey.project_id, external_id=profile_id)
        except NotFound:
            profile = None
    if profile is None:
        latest = (
            Message.objects.filter(journey=journey, node=node)
            .select_related("profile", "enrollment__trigger_event")
            .order_by("-id")
            .first()
        )
        if latest is not None:
            profile, event = latest.profile, latest.enrollment.trigger_event
    preview: dict[str, Any] | None = None
    preview_error = ""
    if profile is not None and shape.version_id is not None:
        from engine.outbox import render_message

        version = loaders.version(shape.version_id)
        block = version.definition.node(node)
        assert kind_of(block).category == "message"
        try:
            preview = render_message(
                version, cast(MessageBlock, block), profile, event, timezone.now()
            )
        except (TemplateError, ValueError) as exc:
            preview_error = str(exc)
    bt = block_type(str(raw.get("type")))
    return {
        "node": node,
        "block": raw,
        "label": bt.label if bt else raw.get("type"),
        "channel": raw.get("type"),
        "version": shape.version_number,
        "days": days,
        "totals": {s: sum(int(d[s]) for d in days) for s in STATUSES},
        "sample_profile": profile.external_id if profile else None,
        "preview": preview,
        "preview_error": preview_error,
        "failures": campaign_failures(journey=journey, node=node, frame=frame),
        "skips": campaign_skips(journey=journey, node=node, frame=frame),
        "recipients": campaign_recipients(journey=journey, node=node, frame=frame),
    }


# -- plain words for a segment block's condition --------------------------------------------


def duration_words(value: Any, units: int = 4) -> str:
    """Words for an ISO 8601 duration or a number of seconds ("1 day 6 hours"): at most
    ``units`` units, the largest first."""
    from django.utils.dateparse import parse_duration

    if isinstance(value, int | float):
        seconds = int(value)
    else:
        parsed = parse_duration(str(value)) if value not in (None, "") else None
        if parsed is None:
            return str(value)
        seconds = int(parsed.total_seconds())
    parts = []
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n} {name}{'s' if n != 1 else ''}")
    return " ".join(parts[:units]) or "0 seconds"


def _where_words(where: Any) -> str:
    if not isinstance(where, list) or not where:
        return ""
    words = []
    for f in where:
        if isinstance(f, Mapping):
            op = str(f.get("op", "equals")).replace("_", " ")
            words.append(f"{f.get('property')} {op} {f.get('value', '')}".strip())
    return " where " + " and ".join(words) if words else ""


def _past_condition_words(c: Mapping[str, Any]) -> str:
    kind, event = c.get("kind"), c.get("event")
    if kind == "did":
        op = str(c.get("op") or c.get("count_op") or "at least").replace("_", " ")
        count = c.get("count", 1)
        return f"did “{event}”{_where_words(c.get('where'))} {op} {count} time{'s' if count != 1 else ''}"
    if kind == "did_not":
        return f"did not do “{event}”{_where_words(c.get('where'))}"
    if kind == "profile":
        op = str(c.get("op", "equals")).replace("_", " ")
        return f"profile {c.get('property')} {op} {c.get('value', '')}".strip()
    return ", ".join(f"{k} {v}" for k, v in c.items())


def condition_words(raw: Mapping[str, Any]) -> str:
    """A segment block's condition in plain words (what a marketer reads on its page)."""
    type_ = raw.get("type")
    within = f" within {duration_words(raw['within'])}" if raw.get("within") else ""
    if type_ == "action":
        return f"Did “{raw.get('event')}”{_where_words(raw.get('where'))}{within}."
    if type_ == "inaction":
        first = f"After “{raw.get('event')}”, did" if raw.get("event") else "Did"
        return (
            f"{first} NOT do “{raw.get('not_event')}”{_where_words(raw.get('not_where'))}{within}."
        )
    if type_ == "past_behaviour":
        days = raw.get("window_days")
        joiner = " and " if raw.get("match", "all") == "all" else " or "
        conditions = [
            _past_condition_words(c) for c in raw.get("conditions") or [] if isinstance(c, Mapping)
        ]
        return f"In the last {days} day{'s' if days != 1 else ''}: {joiner.join(conditions)}."
    bt = block_type(str(type_)) if isinstance(type_, str) else None
    skip = {"id", "type", "name", "label", "x", "y", "position"}
    details = "; ".join(
        f"{k.replace('_', ' ')}: {duration_words(v) if k in ('within', 'offset') else v}"
        for k, v in raw.items()
        if k not in skip and v not in (None, "", [], {})
    )
    return (
        f"{bt.label if bt else type_}: {details}." if details else f"{bt.label if bt else type_}."
    )


def segment_branches(
    *, journey: Journey, node: str, frame: Any, zone: tzinfo | None = None
) -> dict[str, int]:
    """Users who left the block by each branch in the frame (steps by day and branch)."""
    counts: dict[str, int] = defaultdict(int)
    days = _node_days(journey, node, frame, zone or project_zone(journey.project.timezone))
    for branches in days.values():
        for branch, n in branches.items():
            if branch:
                counts[branch] += n
    first = {"yes": 0, "no": 1}
    return dict(sorted(counts.items(), key=lambda kv: (first.get(kv[0], 2), kv[0])))


FAILURE_SAMPLE = 20


def campaign_failures(*, journey: Journey, node: str, frame: Any) -> dict[str, Any]:
    """Failed messages of the block in the frame: by reason (most frequent first) and the
    latest ones with their profile."""
    failed = Message.objects.filter(
        frame.q("created_at"), journey=journey, node=node, status=Message.Status.FAILED
    ).order_by()
    reasons = _by_reason(failed)
    latest = [
        {"profile_id": ext, "at": at, "error": error, "attempts": attempts}
        for ext, at, error, attempts in failed.order_by("-created_at", "-id").values_list(
            "profile__external_id", "created_at", "error", "attempts"
        )[:FAILURE_SAMPLE]
    ]
    return {"reasons": reasons, "latest": latest}


def _by_reason(messages: QuerySet[Message]) -> list[dict[str, Any]]:
    """Messages counted by their recorded reason, the most frequent first."""
    return [
        {"error": error or "(no reason recorded)", "count": n}
        for error, n in messages.values("error")
        .annotate(n=Count("id"))
        .order_by("-n", "error")
        .values_list("error", "n")[:20]
    ]


def campaign_skips(*, journey: Journey, node: str, frame: Any) -> dict[str, Any]:
    """Skipped messages of the block in the frame by reason (frequency caps, quiet hours,
    unsubscribes, nothing to send to), and the ones held for quiet hours: waiting now, and
    held at some point."""
    messages = Message.objects.filter(frame.q("created_at"), journey=journey, node=node)
    held = messages.filter(delivery__has_key="held").order_by()
    waiting = held.filter(status=Message.Status.QUEUED)
    return {
        "reasons": _by_reason(messages.filter(status=Message.Status.SKIPPED).order_by()),
        "held": held.count(),
        "held_waiting": waiting.count(),
        "held_until": waiting.aggregate(until=Max("next_attempt_at"))["until"],
    }


def campaign_recipients(*, journey: Journey, node: str, frame: Any) -> list[dict[str, Any]]:
    """The latest recipients of the block in the frame, with their message's status."""
    return [
        {"profile_id": ext, "at": at, "status": status}
        for ext, at, status in Message.objects.filter(
            frame.q("created_at"), journey=journey, node=node
        )
        .order_by("-created_at", "-id")
        .values_list("profile__external_id", "created_at", "status")[:SAMPLE_SIZE]
    ]


# -- the journey report: summary over time --------------------------------------------------


def _raw_series(
    journey: Journey, frame: Any, zone: tzinfo, reason: str
) -> tuple[dict[date, int], dict[date, int]]:
    enrollments = Enrollment.objects.filter(journey=journey).order_by()
    entries = dict(
        enrollments.filter(frame.q("entered_at"), state__in=[ACTIVE, EXITED])
        .annotate(day=TruncDate("entered_at", tzinfo=zone))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    conversions = dict(
        enrollments.filter(frame.q("exited_at"), state=EXITED, exit_reason=reason)
        .annotate(day=TruncDate("exited_at", tzinfo=zone))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    return entries, conversions


def _whole_hour_zone(zone: tzinfo, frame: Any) -> bool:
    """Whether the zone's days start on UTC hours over the frame (not +05:30 and the like)."""
    moments = [m for m in (frame.start, frame.end, timezone.now()) if m is not None]
    for moment in moments:
        offset = moment.astimezone(zone).utcoffset()
        if offset is None or offset.total_seconds() % 3600:
            return False
    return True


def journey_series(*, journey: Journey, frame: Any) -> dict[str, Any]:
    """Entries and conversions per day of the frame (project time zone): conversions are
    Goal Met exits with goals set, else Completed exits (PRODUCT §5). On PostgreSQL, for a
    zone whose days start on whole hours, whole hours come from the hourly rollup and only
    the frame's partial edge hours from the enrollments."""
    from stats.models import EnrollmentHour

    shape = journey_shape(journey)
    zone = project_zone(journey.project.timezone)
    reason = GOAL_MET if shape.has_goals else COMPLETED
    split = _hour_split(frame) if _use_rollups() and _whole_hour_zone(zone, frame) else None
    if split is None:
        entries, conversions = _raw_series(journey, frame, zone, reason)
    else:
        inner_start, inner_end, edges = split
        _fold(journey)
        entries, conversions = defaultdict(int), defaultdict(int)
        rolled = _rolled(
            EnrollmentHour.objects.filter(journey_id=journey.pk).filter(
                Q(kind="entry") | Q(kind="exit", reason=reason)
            ),
            inner_start,
            inner_end,
        )
        for kind, hour, n in (
            rolled.values("kind", "hour").annotate(n=Sum("n")).values_list("kind", "hour", "n")
        ):
            day = hour.astimezone(zone).date()
            (entries if kind == "entry" else conversions)[day] += int(n or 0)
        for edge in edges:
            edge_entries, edge_conversions = _raw_series(journey, edge, zone, reason)
            for d, n in edge_entries.items():
                entries[d] += n
            for d, n in edge_conversions.items():
                conversions[d] += n
    seen = [d for d, n in entries.items() if n] + [d for d, n in conversions.items() if n]
    days = _days(frame, zone, seen)
    return {
        "conversion": "goal_met" if shape.has_goals else "completed",
        "days": [
            {"day": d, "entries": entries.get(d, 0), "conversions": conversions.get(d, 0)}
            for d in days
        ],
    }


# -- stuck users ----------------------------------------------------------------------------

# How late past what a block should take a user counts as stuck (the engine's ticks and
# batches take a little time).
STUCK_GRACE = timedelta(minutes=5)
# A message block should be left as soon as the message is written.
MESSAGE_EXPECTED = 0
STUCK_SAMPLE = 50


def _expected_seconds(journey: Journey) -> tuple[dict[str, int | None], int | None]:
    """What each block of the live version should take (seconds; None: no limit, e.g. an
    Action without ``within``), and the conversion time (how long a user may stay parked at
    the end of a path)."""
    live = journey.live_version
    if live is not None:
        definition: Any = loaders.version(live.pk).definition
    else:
        try:
            definition = _parse_definition(journey.definition)
        except (DefinitionInvalid, ValueError, TypeError):
            return {}, None
    out: dict[str, int | None] = {}
    for node, block in [(definition.entry.id, definition.entry), *definition.nodes.items()]:
        if kind_of(block).category == "message":
            out[node] = MESSAGE_EXPECTED
            continue
        seconds = getattr(block, "duration", None)
        if seconds is None:
            seconds = getattr(block, "within", None)
        out[node] = seconds if isinstance(seconds, int) else None
    if definition.entry.id in out:
        # Users pass the entry block as they enter; one still there is waiting to be moved.
        out[definition.entry.id] = 0
    return out, definition.settings.conversion_time


def _overdue_q(expected: Mapping[str, int | None], conversion: int | None, now: Any) -> Q:
    """Active enrollments that have waited longer than their block should take."""
    q = Q(node_state=Enrollment.NodeState.QUARANTINED)
    q |= Q(node_state=Enrollment.NodeState.PENDING, node_entered_at__lt=now - STUCK_GRACE)
    for node, seconds in expected.items():
        if seconds is not None:
            q |= Q(
                node=node,
                node_state=Enrollment.NodeState.WAITING,
                node_entered_at__lt=now - timedelta(seconds=seconds) - STUCK_GRACE,
            )
    if conversion is not None:
        q |= Q(
            node_state=DONE, node_entered_at__lt=now - timedelta(seconds=conversion) - STUCK_GRACE
        )
    return q


def journey_stuck(*, journey: Journey, node: str | None = None) -> dict[str, Any]:
    """Per block: users waiting there now, how long the longest has waited, what the block
    should take, and how many waited longer (stuck). One grouped query; with ``node``, also
    that block's stuck profiles, longest wait first (one more query)."""
    now = timezone.now()
    shape = journey_shape(journey)
    expected, conversion = _expected_seconds(journey)
    overdue = _overdue_q(expected, conversion, now)
    rows = {
        r["node"]: r
        for r in _active(journey)
        .values("node")
        .annotate(
            # Counting an indexed column (never NULL): answered from the partial index
            # stats_enrollment_active (stats migration 0004) without reading the table.
            waiting=Count("node"),
            overdue=Count("node", filter=overdue),
            parked=Count("node", filter=Q(node_state=DONE)),
            quarantined=Count("node", filter=Q(node_state=Enrollment.NodeState.QUARANTINED)),
            oldest=Min("node_entered_at"),
        )
    }
    nodes: dict[str, Any] = {}
    for block in [*shape.block_ids, *(n for n in rows if n not in shape.blocks)]:
        r = rows.get(block, {})
        oldest = r.get("oldest")
        nodes[block] = {
            "waiting": r.get("waiting", 0),
            "stuck": r.get("overdue", 0),
            "parked": r.get("parked", 0),
            "quarantined": r.get("quarantined", 0),
            "longest_wait_seconds": int((now - oldest).total_seconds()) if oldest else None,
            "expected_seconds": expected.get(block),
        }
    out: dict[str, Any] = {
        "as_of": now,
        "grace_seconds": int(STUCK_GRACE.total_seconds()),
        "conversion_time_seconds": conversion,
        "nodes": nodes,
        "total_stuck": sum(n["stuck"] for n in nodes.values()),
    }
    if node is not None:
        out["node"] = node
        out["profiles"] = stuck_profiles(journey=journey, node=node, now=now)
    return out


def stuck_profiles(*, journey: Journey, node: str, now: Any = None) -> list[dict[str, Any]]:
    """The stuck users of one block, longest wait first (at most STUCK_SAMPLE)."""
    now = now or timezone.now()
    expected, conversion = _expected_seconds(journey)
    return [
        {
            "profile_id": ext,
            "since": since,
            "waited_seconds": int((now - since).total_seconds()) if since else None,
            "state": state,
        }
        for ext, since, state in _active(journey)
        .filter(_overdue_q(expected, conversion, now), node=node)
        .order_by("node_entered_at", "id")
        .values_list("profile__external_id", "node_entered_at", "node_state")[:STUCK_SAMPLE]
    ]


def journey_summary(*, journey: Journey, frame: Any) -> dict[str, Any]:
    """The journey's header figures (Entry, Goal Met or Completed, Time Out, Conversion %)
    over the frame, as in ``journey_stats``'s summary, from the entries and exits
    (``stay_counts``; no step log read)."""
    shape = journey_shape(journey)
    goals, conversion = shape.has_goals, shape.has_conversion_time
    entry_count, exits = stay_counts(journey=journey, frame=frame)
    row: dict[str, int] = {
        "entry": entry_count,
        **{str(r): sum(by.get(r, 0) for by in exits.values()) for r in EXIT_REASONS},
    }
    summary: dict[str, Any] = {
        "entry": row["entry"],
        "goal_met": row["goal_met"] if goals else None,
        "time_out": row["time_out"] if conversion else None,
        "completed": None if goals else row["completed"],
    }
    summary["conversion_pct"] = _pct(
        summary["goal_met"] if goals else summary["completed"], row["entry"]
    )
    summary["conversion"] = "goal_met" if goals else "completed"
    return summary
