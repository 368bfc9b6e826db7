"""Reads behind the marketer's pages: the journey list with its figures, profiles, settings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.timesince import timesince

from builder.models import Journey, JourneyVersion
from engine.domain.words import EXIT_WORDS
from engine.domain.words import kind_label as _kind_label
from engine.domain.words import why_words as _why
from engine.ingest import is_timezone
from engine.models import Enrollment, Event, Membership, Profile, Project

ACTIVE = Enrollment.State.ACTIVE
EXITED = Enrollment.State.EXITED
R = Enrollment.ExitReason

STATUS_CHOICES = [("", "All statuses"), *Journey.Status.choices]
SORT_CHOICES = [
    ("-edited", "Last edited"),
    ("name", "Name, A to Z"),
    ("-entry", "Most entries"),
    ("-conversion", "Highest conversion"),
    ("status", "Status"),
]
_ORDER = {
    "-edited": ("-updated_at", "-id"),
    "name": ("name", "id"),
    "status": ("status", "-updated_at"),
}
PAGE_SIZE = 200
PROFILE_PAGE = 50
MEMBERS_TEMPLATE = "accounts/members_section.html"


@dataclass(frozen=True)
class JourneyQuery:
    """Search text, status filter and sort order of the journey list (bad values ignored)."""

    q: str = ""
    status: str = ""
    sort: str = "-edited"

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> JourneyQuery:
        q = str(params.get("q", "")).strip()[:200]
        status = str(params.get("status", ""))
        sort = str(params.get("sort", "-edited"))
        return cls(
            q=q,
            status=status if status in Journey.Status.values else "",
            sort=sort if sort in dict(SORT_CHOICES) else "-edited",
        )

    @property
    def is_filtered(self) -> bool:
        return bool(self.q or self.status)


@dataclass(frozen=True)
class JourneyRow:
    """One line of the journey list."""

    journey: Journey
    edited_at: datetime
    edited_text: str
    edited_by: str
    entry: int
    goal_met: int | None
    completed: int | None
    time_out: int | None
    conversion_pct: float
    has_goals: bool


def _flags(journey: Journey) -> tuple[bool, bool]:
    """(has goals, has a conversion time) of what runs: the live version, else the draft."""
    raw = journey.live_version.definition if journey.live_version else journey.definition
    if not isinstance(raw, Mapping):
        return False, False
    settings = raw.get("settings")
    conversion = isinstance(settings, Mapping) and settings.get("conversion_time") is not None
    return bool(raw.get("goals")), conversion


def edited_words(when: datetime, now: datetime | None = None) -> str:
    """'just now', '5 minutes ago', '2 days ago'."""
    now = now or timezone.now()
    if (now - when).total_seconds() < 60:
        return "just now"
    return f"{timesince(when, now, depth=1)} ago"


def _who(user: Any) -> str:
    if user is None:
        return ""
    return str(user.get_full_name() or user.get_username())


def _figures(journey_ids: list[int]) -> dict[int, dict[str, int]]:
    """Journey id -> all-time entry, goal met, time out and completed counts (one grouped
    query over the enrollments of those journeys, narrow rows: no journey columns joined)."""
    if not journey_ids:
        return {}
    exited = Q(state=EXITED)
    rows = (
        Enrollment.objects.filter(journey_id__in=journey_ids)
        .order_by()
        .values("journey_id")
        .annotate(
            entry=Count("id", filter=Q(state__in=[ACTIVE, EXITED])),
            goal_met=Count("id", filter=exited & Q(exit_reason=R.GOAL_MET)),
            time_out=Count("id", filter=exited & Q(exit_reason=R.TIME_OUT)),
            completed=Count("id", filter=exited & Q(exit_reason=R.COMPLETED)),
        )
    )
    return {row.pop("journey_id"): row for row in rows}


def journey_rows(*, project_id: int, query: JourneyQuery) -> list[JourneyRow]:
    """The project's journeys matching ``query`` with all-time figures: two queries (the
    journeys, then their figures grouped by journey), whatever the number of journeys."""
    qs: QuerySet[Journey] = Journey.objects.filter(project_id=project_id).select_related(
        "live_version", "created_by", "updated_by"
    )
    if query.q:
        qs = qs.filter(name__icontains=query.q)
    if query.status:
        qs = qs.filter(status=query.status)
    order = _ORDER.get(query.sort, ("-updated_at", "-id"))
    if query.sort not in ("-entry", "-conversion"):
        qs = qs.order_by(*order)
    journeys = list(qs)
    figures = _figures([j.pk for j in journeys])
    rows = []
    now = timezone.now()
    empty = {"entry": 0, "goal_met": 0, "time_out": 0, "completed": 0}
    for j in journeys:
        f = figures.get(j.pk, empty)
        goals, conversion = _flags(j)
        won = f["goal_met"] if goals else f["completed"]
        rows.append(
            JourneyRow(
                journey=j,
                edited_at=j.updated_at,
                edited_text=edited_words(j.updated_at, now),
                edited_by=_who(j.updated_by or j.created_by),
                entry=f["entry"],
                goal_met=f["goal_met"] if goals else None,
                completed=None if goals else f["completed"],
                time_out=f["time_out"] if conversion else None,
                conversion_pct=round(won * 100.0 / f["entry"], 1) if f["entry"] else 0.0,
                has_goals=goals,
            )
        )
    if query.sort == "-entry":
        rows.sort(key=lambda r: (-r.entry, -r.edited_at.timestamp()))
    elif query.sort == "-conversion":
        rows.sort(key=lambda r: (-r.conversion_pct, -r.entry))
    return rows[:PAGE_SIZE]


def journey_count(*, project_id: int) -> int:
    return Journey.objects.filter(project_id=project_id).count()


def export_filename(journey: Journey) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", journey.name.lower()).strip("-")[:60] or "journey"
    return f"{slug}-{journey.pk}.json"


def event_names(*, project_id: int, limit: int = 50) -> list[str]:
    """Event names the project has received, most recent first (for suggestions)."""
    rows = (
        Event.objects.filter(project_id=project_id)
        .order_by("-id")
        .values_list("name", flat=True)[:2000]
    )
    seen: dict[str, None] = {}
    for name in rows:
        seen.setdefault(name, None)
        if len(seen) >= limit:
            break
    return list(seen)


# -- profiles -------------------------------------------------------------------------------


def profile_search(*, project_id: int, q: str) -> dict[str, Any]:
    """Profiles whose id, email or phone contain ``q`` (newest first), and how many matched."""
    qs = Profile.objects.filter(project_id=project_id)
    if q:
        qs = qs.filter(Q(external_id__icontains=q) | Q(email__icontains=q) | Q(phone__icontains=q))
    total = qs.count()
    profiles = list(qs.order_by("-updated_at", "-id")[:PROFILE_PAGE])
    return {"profiles": profiles, "matched": total, "shown": len(profiles)}


def _block_labels(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], dict[str, str]]:
    """(journey id, version number) -> block id -> the block's label (one query)."""
    if not pairs:
        return {}
    q = Q()
    for journey_id, number in pairs:
        q |= Q(journey_id=journey_id, number=number)
    out: dict[tuple[int, int], dict[str, str]] = {}
    for journey_id, number, raw in JourneyVersion.objects.filter(q).values_list(
        "journey_id", "number", "definition"
    ):
        labels: dict[str, str] = {}
        if isinstance(raw, Mapping):
            blocks = [raw.get("entry"), *(raw.get("nodes") or [])]
            for block in blocks:
                if isinstance(block, Mapping) and isinstance(block.get("id"), str):
                    label = block.get("label") or block.get("name")
                    if isinstance(label, str) and label:
                        labels[block["id"]] = label
        out[(journey_id, number)] = labels
    return out


def timeline_for_people(timeline: Mapping[str, Any], project: Project) -> list[dict[str, Any]]:
    """The profile timeline with each block's label, each step's reason and each exit in
    plain words."""
    stays = timeline.get("journeys", [])
    labels = _block_labels(
        {(stay["journey"], s["version"]) for stay in stays for s in stay["steps"] if s["version"]}
    )
    out = []
    for stay in stays:
        steps = [
            {
                **s,
                "why_text": _why(s.get("why"), s.get("path")),
                "kind": _kind_label(s.get("type")),
                "label": labels.get((stay["journey"], s["version"]), {}).get(s["node"], s["node"]),
            }
            for s in stay["steps"]
        ]
        reason = stay.get("exit_reason")
        out.append(
            {
                **stay,
                "steps": steps,
                "exit_text": EXIT_WORDS.get(reason, reason or "") if reason else "",
            }
        )
    return out


# -- settings -------------------------------------------------------------------------------


_ZONES: list[str] | None = None


def timezone_choices() -> list[str]:
    """IANA time zone names a project may use, sorted (the same list ingest accepts)."""
    global _ZONES
    if _ZONES is None:
        from zoneinfo import available_timezones

        _ZONES = sorted(z for z in available_timezones() if is_timezone(z))
    return _ZONES


def project_keys(*, project: Project, origin: str) -> list[dict[str, str]]:
    """The project's keys as the settings page shows them, with the web SDK snippet."""
    keys = [
        {
            "kind": "ingest",
            "name": "Server key",
            "field": "ingest_key",
            "value": project.ingest_key,
            "help": "For your servers calling the ingest API. Keep it secret: never put it in "
            "a web page or an app.",
        }
    ]
    sdk_key = getattr(project, "sdk_key", "")
    if sdk_key:
        keys.append(
            {
                "kind": "sdk",
                "name": "Public web key",
                "field": "sdk_key",
                "value": sdk_key,
                "help": "For the web SDK in your pages. It can only send events and profile "
                "properties, so it is safe in public HTML.",
                "snippet": (
                    f'<script src="{origin}/static/sdk/journeys.js" '
                    f'data-key="{sdk_key}" async></script>'
                ),
            }
        )
    return keys


def project_members(*, project_id: int) -> list[Membership]:
    return list(
        Membership.objects.filter(project_id=project_id)
        .select_related("user")
        .order_by("user__username")
    )


def members_template() -> str | None:
    """The accounts app's members section (invitations), once it exists."""
    try:
        get_template(MEMBERS_TEMPLATE)
        reverse("member-invite")  # its forms post there: mounted only once the app is done
    except (TemplateDoesNotExist, NoReverseMatch):
        return None
    return MEMBERS_TEMPLATE
