"""The scenario tests/engine/test_moves_on_both_databases.py runs once on SQLite and once
on PostgreSQL (each in its own pytest process): journeys using every block kind, driven
through ingest, profile updates, timers, a midnight and time-outs on a fixed clock. It
writes the resulting enrollment, step and message rows, normalised (no ids, which may
differ between the databases), as JSON to the file named by ``JOURNEYS_MOVES_OUT``.

Not collected by the suite on its own (its name does not start with ``test_``).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from builder.models import Journey, JourneyVersion
from engine.domain import parse_definition
from engine.models import Enrollment, Event, Message, Profile, Step
from tests.engine.flows.conftest import START, define, delay, push, sms

pytestmark = pytest.mark.django_db

USERS = [f"u{i}" for i in range(1, 13)]
SHOP = "https://shop.example.com"


def _main() -> dict[str, Any]:
    """Action entry; delay; Action with a `within` (event or timer); Split with a holdout;
    Inaction inside; messages on every branch; a goal and a conversion time."""
    return define(
        START,
        [
            delay("wait", "PT10M"),
            {"id": "clicked", "type": "action", "event": "Clicked", "within": "PT1H"},
            {
                "id": "ab",
                "type": "split",
                "branches": [
                    {"name": "A", "percent": 34, "holdout": False},
                    {"name": "B", "percent": 33, "holdout": False},
                    {"name": "H", "percent": 33, "holdout": True},
                ],
            },
            push("pA", "Deal", "Hi {{ profile.id }}"),
            {"id": "pB", "type": "web_push", "title": "Deal", "body": "B"},
            delay("wait2", "PT5M"),
            {"id": "ia", "type": "in_app", "title": "Welcome", "body": "Inside"},
            {"id": "quiet", "type": "inaction", "not_event": "Charged", "within": "PT30M"},
            sms("sQuiet", "Still there?"),
            {"id": "mBought", "type": "email", "subject": "Thanks", "text": "Thanks"},
        ],
        [
            ("entry", "wait"),
            ("wait", "clicked"),
            ("clicked", "ab", "yes"),
            ("clicked", "quiet", "no"),
            ("ab", "pA", "A"),
            ("ab", "pB", "B"),
            ("pA", "wait2"),
            ("wait2", "ia"),
            ("quiet", "sQuiet", "yes"),
            ("quiet", "mBought", "no"),
        ],
        goals=[{"id": "bought", "type": "action", "event": "Purchased"}],
        conversion_time="PT3H",
    )


def _dates() -> dict[str, Any]:
    """Page Visit entry; Page Count, Referrer Entry and Page Visit inside; Date Time
    inside (timer, a date already past, a missing date, a date moved by a profile update)."""
    return define(
        {"type": "page_visit", "url": {"op": "contains", "value": "/pricing"}},
        [
            {
                "id": "pc",
                "type": "page_count",
                "count": {"op": "gte", "value": 3},
                "within": "PT30M",
            },
            {"id": "dt", "type": "date_time", "property": "flight_time", "offset": "-PT2H"},
            {
                "id": "ref",
                "type": "referrer_entry",
                "referrer": {"op": "contains", "value": "news.example"},
                "within": "PT1H",
            },
            {
                "id": "hook",
                "type": "webhook",
                "url": "https://hooks.example.com/flight",
                "body": '{"user": "{{ profile.id }}"}',
            },
            sms("late", "Too late"),
            push("pRef", "From the news", "Hi"),
            {
                "id": "pv",
                "type": "page_visit",
                "url": {"op": "contains", "value": "/checkout"},
                "within": "PT1H",
            },
        ],
        [
            ("entry", "pc"),
            ("pc", "dt", "yes"),
            ("pc", "ref", "no"),
            ("dt", "hook", "yes"),
            ("dt", "late", "no"),
            ("ref", "pRef", "yes"),
            ("ref", "pv", "no"),
        ],
    )


def _past() -> dict[str, Any]:
    """Referrer Entry; Past Behaviour inside, at midnight and on arrival."""
    return define(
        {"type": "referrer_entry", "referrer": {"op": "contains", "value": "facebook.com"}},
        [
            {
                "id": "pbMid",
                "type": "past_behaviour",
                "window_days": 1,
                "match": "all",
                "conditions": [{"kind": "did", "event": "Charged"}],
            },
            {
                "id": "pbArr",
                "type": "past_behaviour",
                "window_days": 7,
                "match": "any",
                "evaluate": "on_arrival",
                "conditions": [
                    {"kind": "profile", "property": "plan", "op": "eq", "value": "pro"},
                    {"kind": "did", "event": "Video Watched", "count": {"op": "gte", "value": 2}},
                ],
            },
            sms("pby", "Bought yesterday"),
            delay("pbLong", "P3D"),
            {"id": "pbMail", "type": "email", "subject": "Pro", "html": "<p>Pro</p>"},
        ],
        [
            ("entry", "pbMid"),
            ("pbMid", "pby", "yes"),
            ("pby", "pbLong"),
            ("pbMid", "pbArr", "no"),
            ("pbArr", "pbMail", "yes"),
        ],
        conversion_time="P2D",  # users still at pbLong time out there
    )


def _journeys_with_entries(main_id: int) -> list[tuple[str, dict[str, Any]]]:
    """A long wait; Journey Trigger, Page Count, Inaction, Date Time and Past Behaviour entries."""
    return [
        (
            "Follow",
            define(
                {"type": "journey_trigger", "journey": str(main_id), "node": "pA"},
                [sms("fSms", "Followed")],
                [("entry", "fSms")],
            ),
        ),
        ("Long", define(START, [delay("long", "P10D")], [("entry", "long")])),
        (
            "Browse",
            define(
                {"type": "page_count", "count": {"op": "gte", "value": 4}},
                [sms("browse", "Still browsing?")],
                [("entry", "browse")],
            ),
        ),
        (
            "Abandon",
            define(
                {
                    "type": "inaction",
                    "event": "Added To Cart",
                    "not_event": "Charged",
                    "within": "PT5M",
                },
                [sms("cart", "Your cart")],
                [("entry", "cart")],
            ),
        ),
        (
            "Flight",
            define(
                {"type": "date_time", "property": "flight_time", "offset": "-PT3H"},
                [push("boarding", "Boarding soon", "Hi")],
                [("entry", "boarding")],
            ),
        ),
        (
            "Loyal",
            define(
                {
                    "type": "past_behaviour",
                    "window_days": 7,
                    "match": "all",
                    "conditions": [{"kind": "did", "event": "Charged"}],
                },
                [
                    delay("lWait", "PT1H"),
                    {"id": "lMail", "type": "email", "subject": "Hi", "text": "Hi"},
                ],
                [("entry", "lWait"), ("lWait", "lMail")],
            ),
        ),
    ]


def _at(hours: float) -> str:
    return (timezone.now() + timedelta(hours=hours)).isoformat()


def _play(engine: Any) -> None:
    """Profiles, history, journeys, then a day of events and timers."""
    flights = {"u1": 5, "u2": 1, "u4": 4, "u5": 8, "u6": 2.5, "u9": 30}
    for user in USERS:  # created in order: the same profile ids on both databases
        properties: dict[str, Any] = {"plan": "pro" if user in ("u3", "u10") else "free"}
        if user in flights:
            properties["flight_time"] = _at(flights[user])
        engine.profile(user, **properties)
    for user in ("u1", "u5", "u11"):
        engine.track_at(user, "Charged", timezone.now() - timedelta(hours=2), amount=10)
    for hours in (20, 30):
        engine.track_at("u12", "Video Watched", timezone.now() - timedelta(hours=hours))

    main = engine.publish(_main(), name="Main")
    engine.publish(_dates(), name="Dates")
    engine.publish(_past(), name="Past")
    for name, definition in _journeys_with_entries(main.pk):
        engine.publish(definition, name=name)

    for user in USERS[:10]:
        engine.track(user, "Start")
    for user in ("u1", "u2", "u3", "u4", "u5", "u6", "u7"):
        engine.page(user, f"{SHOP}/pricing")
    for _ in range(3):
        engine.page("u1", f"{SHOP}/shoes")
        engine.page("u4", f"{SHOP}/shoes")
    for user in ("u2", "u3"):  # u2's date is past, u3 has none
        for _ in range(2):
            engine.page(user, f"{SHOP}/shoes")
    engine.page("u5", f"{SHOP}/shoes", session_id="s2")
    for user in ("u8", "u9", "u11", "u12"):
        engine.page(user, f"{SHOP}/", referrer="https://www.facebook.com/post/1")
    engine.track("u5", "Added To Cart")
    engine.track("u6", "Added To Cart")
    engine.track("u7", "Added To Cart")
    engine.advance(minutes=2)
    engine.track("u6", "Charged")
    engine.advance(minutes=8, seconds=1)  # the first delay is over
    for user in USERS[:7]:  # u8, u9 and u10 go on to the Inaction block
        engine.track(user, "Clicked")
    engine.advance(minutes=10)
    engine.page("u3", f"{SHOP}/", referrer="https://news.example/today")
    engine.profile("u4", flight_time=_at(5))  # Date Time waits move with the profile
    engine.track("u7", "Charged")
    engine.advance(minutes=25)
    engine.track("u3", "Purchased")  # goal met
    engine.advance(minutes=30)
    engine.page("u5", f"{SHOP}/", referrer="https://news.example/late")
    engine.track("u9", "Charged")  # at the Inaction block: its "no"
    engine.track("u10", "Purchased")  # the goal, met while waiting there
    engine.advance(minutes=30)
    engine.page("u6", f"{SHOP}/checkout")  # at the Page Visit block: its "yes"
    for _ in range(8):
        engine.advance(minutes=30)
    engine.until_midnight()
    engine.advance(hours=2)
    engine.advance(hours=10)
    engine.advance(hours=12)
    engine.advance(hours=12)


def _normalised(engine: Any) -> dict[str, Any]:
    journeys = {j.pk: j.name for j in Journey.objects.all()}
    profiles = {p.pk: p.external_id for p in Profile.objects.all()}
    events = {e.pk: [profiles[e.profile_id], e.name, e.ts.isoformat()] for e in Event.objects.all()}

    def plain(value: Any) -> Any:
        """Ids inside JSON (step details, contexts) as what they stand for."""
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if key == "event_id" and item in events:
                    item = events[item]
                elif key == "journey" and isinstance(item, int):
                    item = journeys[item]
                out[key] = plain(item)
            return out
        if isinstance(value, list):
            return [plain(item) for item in value]
        return value

    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    enrollment = {}
    enrollments = []
    for e in Enrollment.objects.all():
        key = [journeys[e.journey_id], profiles[e.profile_id], e.entry_number, e.state]
        enrollment[e.pk] = key
        enrollments.append(
            {
                "journey": key[0],
                "profile": key[1],
                "entry_number": e.entry_number,
                "state": e.state,
                "node": e.node,
                "node_state": e.node_state,
                "visit": e.visit,
                "revision": e.revision,
                "wake_at": when(e.wake_at),
                "deadline": when(e.deadline),
                "entered_at": when(e.entered_at),
                "node_entered_at": when(e.node_entered_at),
                "exited_at": when(e.exited_at),
                "exit_reason": e.exit_reason,
                "exit_node": e.exit_node,
                "trigger_event": events.get(e.trigger_event_id) if e.trigger_event_id else None,
                "context": plain(e.context),
                "version": JourneyVersion.objects.get(pk=e.version_id).number,
            }
        )
    kinds = {
        v.pk: {n: b.type for n, b in parse_definition(v.definition).nodes.items()}
        | {parse_definition(v.definition).entry.id: parse_definition(v.definition).entry.type}
        for v in JourneyVersion.objects.all()
    }
    version_of = dict(Enrollment.objects.values_list("pk", "version_id"))
    steps = [
        {
            "enrollment": enrollment[s.enrollment_id],
            "kind": kinds[version_of[s.enrollment_id]][s.node],
            "node": s.node,
            "visit": s.visit,
            "version_number": s.version_number,
            "outcome": s.outcome,
            "branch": s.branch,
            "detail": plain(s.detail),
            "entered_at": when(s.entered_at),
            "left_at": when(s.left_at),
        }
        for s in Step.objects.all()
    ]
    messages = [
        {
            "enrollment": enrollment[m.enrollment_id],
            "node": m.node,
            "visit": m.visit,
            "channel": m.channel,
            "status": m.status,
            "attempts": m.attempts,
            "rendered": plain(m.rendered),
            "created_at": when(m.created_at),
            "sent_at": when(m.sent_at),
        }
        for m in Message.objects.all()
    ]

    def ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))

    return {
        # Split assigns by a hash of (journey, block, profile) ids: the same on both.
        "ids": {
            "journeys": sorted([pk, name] for pk, name in journeys.items()),
            "profiles": sorted([pk, name] for pk, name in profiles.items()),
        },
        "enrollments": ordered(enrollments),
        "steps": ordered(steps),
        "messages": ordered(messages),
    }


def test_scenario(engine: Any) -> None:
    out = os.environ.get("JOURNEYS_MOVES_OUT")
    if not out:
        pytest.fail("run by tests/engine/test_moves_on_both_databases.py (JOURNEYS_MOVES_OUT)")
    _play(engine)
    with open(out, "w") as f:
        json.dump(_normalised(engine), f, indent=1, sort_keys=True)
