"""The page kinds in the engine: Page Viewed events matched by URL, referrer or page count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.db.models import Count
from django.db.models.fields.json import KT

from engine.domain import value_matches

from .base import EventWait

if TYPE_CHECKING:
    from engine.models import Event

PAGE_VIEWED = "Page Viewed"
REFERRER_KEYS = ("referrer", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


def _seen(e: Event) -> dict[str, Any]:
    props = e.properties or {}
    return {"url": props.get("url"), "referrer": props.get("referrer")}


class PageVisit(EventWait):
    event_name = PAGE_VIEWED

    def matching(self, block: Any, events: Sequence[Event]) -> list[tuple[Event, dict[str, Any]]]:
        return [
            (e, _seen(e))
            for e in events
            if e.name == PAGE_VIEWED and value_matches(block.url, (e.properties or {}).get("url"))
        ]


class ReferrerEntry(EventWait):
    event_name = PAGE_VIEWED

    def matching(self, block: Any, events: Sequence[Event]) -> list[tuple[Event, dict[str, Any]]]:
        out = []
        for e in events:
            props = e.properties or {}
            if e.name == PAGE_VIEWED and any(
                value_matches(block.referrer, props.get(key))
                for key in REFERRER_KEYS
                if props.get(key)
            ):
                out.append((e, _seen(e)))
        return out


def page_counts(block: Any, events: Sequence[Event]) -> dict[int, int]:
    """Event id -> the profile's page views so far (in that event's session, or in total):
    one query for the whole batch of events."""
    from engine.models import Event

    if not events:
        return {}
    profile_ids = {e.profile_id for e in events}
    qs = Event.objects.filter(profile_id__in=profile_ids, name=PAGE_VIEWED)
    out: dict[int, int] = {}
    if block.scope == "total":
        totals = dict(
            qs.values("profile_id").annotate(n=Count("id")).values_list("profile_id", "n")
        )
        for e in events:
            out[e.id] = totals.get(e.profile_id, 0)
    else:
        sessions = {
            (pid, sid): n
            for pid, sid, n in qs.annotate(sid=KT("properties__session_id"))
            .values("profile_id", "sid")
            .annotate(n=Count("id"))
            .values_list("profile_id", "sid", "n")
        }
        for e in events:
            sid = (e.properties or {}).get("session_id")
            out[e.id] = sessions.get((e.profile_id, str(sid) if sid is not None else None), 0)
    return out


class PageCount(EventWait):
    event_name = PAGE_VIEWED

    def _matching(
        self, block: Any, events: Sequence[Event], counts: Mapping[int, int]
    ) -> list[tuple[Event, dict[str, Any]]]:
        return [
            (e, {"page_views": counts[e.id], "scope": block.scope})
            for e in events
            if e.name == PAGE_VIEWED and block.count.matches(counts[e.id])
        ]

    def matching(self, block: Any, events: Sequence[Event]) -> list[tuple[Event, dict[str, Any]]]:
        pages = [e for e in events if e.name == PAGE_VIEWED]
        return self._matching(block, pages, page_counts(block, pages))

    def first_matches(
        self, block: Any, waiting: Mapping[int, Sequence[Event]]
    ) -> dict[int, tuple[Event, dict[str, Any]]]:
        # Counted once for every waiting user's page views, not one query per user.
        pages = {i: [e for e in events if e.name == PAGE_VIEWED] for i, events in waiting.items()}
        every = {e.id: e for events in pages.values() for e in events}
        counts = page_counts(block, list(every.values()))
        out: dict[int, tuple[Event, dict[str, Any]]] = {}
        for enrollment_id, events in pages.items():
            matches = self._matching(block, events, counts)
            if matches:
                out[enrollment_id] = matches[0]
        return out


HANDLERS = {
    "page_visit": PageVisit(),
    "referrer_entry": ReferrerEntry(),
    "page_count": PageCount(),
}
