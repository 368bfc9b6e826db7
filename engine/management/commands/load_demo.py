"""``manage.py load_demo``: a demo project, a marketer login, a few hundred profiles and three journeys.

Idempotent: a second run changes nothing and prints the same login. Data goes through
the same ingest services as the API, so the engine sees it exactly as it would live.
"""

from __future__ import annotations

import random
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from engine import services
from engine.ingest import EventRecord, ProfileRecord
from engine.models import Project

DEMO_PROJECT = "Demo Store"
DEMO_USERNAME = "demo"
FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chen",
    "Dara",
    "Eli",
    "Fatima",
    "Gus",
    "Hana",
    "Ivo",
    "Jun",
    "Kofi",
    "Lea",
]
CITIES = ["Paris", "Mumbai", "Austin", "Lagos", "Berlin", "Tokyo"]
PAGES = ["/", "/pricing", "/shoes", "/shoes/red-nike", "/cart", "/blog/running-tips"]
ITEMS = [
    ("Red Nike Shoes", 120),
    ("Running Socks", 15),
    ("Trail Jacket", 180),
    ("Water Bottle", 25),
]


def _layout(*rows: tuple[str, int, int]) -> dict[str, dict[str, int]]:
    """Canvas positions: a row of the grid is 140 px high, a column 280 px wide."""
    return {node: {"x": col * 280, "y": row * 140} for node, col, row in rows}


CART_ABANDONMENT: dict[str, Any] = {
    "settings": {"conversion_time": "P3D", "allow_reentry": True},
    "entry": {
        "id": "entry",
        "type": "action",
        "event": "Added To Cart",
        "label": "Added to cart",
    },
    "nodes": [
        {"id": "wait", "type": "delay", "duration": "PT1H", "label": "Wait 1 hour"},
        {
            "id": "paid",
            "type": "past_behaviour",
            "window_days": 1,
            "evaluate": "on_arrival",
            "conditions": [{"kind": "did", "event": "Charged"}],
            "label": "Bought in the last day?",
        },
        {
            "id": "push",
            "type": "push",
            "title": "Still thinking it over?",
            "body": "Hi {{ profile.first_name | default: 'there' }}, your cart is waiting.",
            "label": "Cart reminder push",
        },
        {
            "id": "mail",
            "type": "email",
            "subject": "Your cart misses you: 10% off today",
            "html": "<p>Hi {{ profile.first_name | default: 'there' }},</p>"
            "<p>You left something in your cart. Use code <b>CART10</b> for 10% off.</p>",
            "label": "10% off email",
        },
    ],
    "edges": [
        {"from": "entry", "to": "wait"},
        {"from": "wait", "to": "paid"},
        {"from": "paid", "to": "push", "branch": "no"},
        {"from": "push", "to": "mail"},
    ],
    "goals": [{"id": "bought", "type": "action", "event": "Charged", "label": "Bought"}],
    "layout": _layout(
        ("entry", 1, 0), ("wait", 1, 1), ("paid", 1, 2), ("push", 2, 3), ("mail", 2, 4)
    ),
}

FLIGHT_REMINDER: dict[str, Any] = {
    "settings": {"conversion_time": None, "allow_reentry": True},
    "entry": {
        "id": "entry",
        "type": "date_time",
        "property": "flight_time",
        "offset": "-PT2H",
        "label": "2 hours before the flight",
    },
    "nodes": [
        {
            "id": "push",
            "type": "push",
            "title": "Your flight leaves in 2 hours",
            "body": "Time to head to the airport, {{ profile.first_name | default: 'traveller' }}.",
            "label": "Leave-now push",
        },
        {"id": "wait", "type": "delay", "duration": "PT30M", "label": "Wait 30 minutes"},
        {
            "id": "mail",
            "type": "email",
            "subject": "Your boarding pass",
            "text": "Have a good flight! Your boarding pass is in the app.",
            "label": "Boarding pass email",
        },
    ],
    "edges": [
        {"from": "entry", "to": "push"},
        {"from": "push", "to": "wait"},
        {"from": "wait", "to": "mail"},
    ],
    "goals": [],
    "layout": _layout(("entry", 0, 0), ("push", 0, 1), ("wait", 0, 2), ("mail", 0, 3)),
}

WELCOME_SERIES: dict[str, Any] = {
    "settings": {"conversion_time": "P14D", "allow_reentry": False},
    "entry": {"id": "entry", "type": "action", "event": "Signed Up", "label": "Signed up"},
    "nodes": [
        {
            "id": "welcome",
            "type": "email",
            "subject": "Welcome to the shop, {{ profile.first_name | default: 'friend' }}!",
            "html": "<p>Thanks for joining. Here is what is new this week.</p>",
            "label": "Welcome email",
        },
        {"id": "wait", "type": "delay", "duration": "P2D", "label": "Wait 2 days"},
        {
            "id": "browsed",
            "type": "past_behaviour",
            "window_days": 2,
            "evaluate": "on_arrival",
            "conditions": [{"kind": "did", "event": "Page Viewed"}],
            "label": "Came back to browse?",
        },
        {
            "id": "tips",
            "type": "push",
            "title": "Find your fit",
            "body": "Our running guide helps you pick the right shoes.",
            "url": "https://shop.example.com/blog/running-tips",
            "label": "Tips push",
        },
        {
            "id": "nudge",
            "type": "email",
            "subject": "We saved you a seat",
            "text": "Come back and see what is new: free shipping on your first order.",
            "label": "Come-back email",
        },
    ],
    "edges": [
        {"from": "entry", "to": "welcome"},
        {"from": "welcome", "to": "wait"},
        {"from": "wait", "to": "browsed"},
        {"from": "browsed", "to": "tips", "branch": "yes"},
        {"from": "browsed", "to": "nudge", "branch": "no"},
    ],
    "goals": [{"id": "first_order", "type": "action", "event": "Charged", "label": "First order"}],
    "layout": _layout(
        ("entry", 1, 0),
        ("welcome", 1, 1),
        ("wait", 1, 2),
        ("browsed", 1, 3),
        ("tips", 0, 4),
        ("nudge", 2, 4),
    ),
}

DEMO_JOURNEYS: list[tuple[str, dict[str, Any]]] = [
    ("Cart abandonment", CART_ABANDONMENT),
    ("Flight reminder (Date Time)", FLIGHT_REMINDER),
    ("Welcome series", WELCOME_SERIES),
]


class Command(BaseCommand):
    help = "Load the demo project, marketer login and sample profiles/events (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--profiles", type=int, default=300)

    def handle(self, *args: Any, **options: Any) -> None:
        user = self._user()
        password = self._password()
        project = Project.objects.filter(name=DEMO_PROJECT, memberships__user=user).first()
        if project is None:
            project = self._load(user, options["profiles"])
        self._journeys(project, user)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo project #{project.pk} '{project.name}' (ingest key {project.ingest_key})\n"
                f"Marketer login: username '{DEMO_USERNAME}', password '{password}'  (admin: /admin/)"
            )
        )
        names = ", ".join(name for name, _ in DEMO_JOURNEYS)
        self.stdout.write(f"Demo journeys: {names}. Open http://127.0.0.1:8000/ and sign in.")

    @transaction.atomic
    def _journeys(self, project: Project, user: Any) -> list[str]:
        """The demo journeys (as drafts) that the project does not have yet, by name."""
        from builder import services as builder_services
        from builder.models import Journey

        added = []
        for name, definition in DEMO_JOURNEYS:
            if Journey.objects.filter(project=project, name=name).exists():
                continue
            builder_services.journey_create(
                project=project, user=user, name=name, definition=definition
            )
            added.append(name)
        return added

    def _password(self) -> str:
        path = settings.VAR_DIR / "demo_password"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(9))
            path.chmod(0o600)
        return path.read_text().strip()

    def _user(self) -> Any:
        user_model = get_user_model()
        user = user_model.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            user = user_model.objects.create_user(username=DEMO_USERNAME, email="demo@example.com")
            user.is_staff = True
            user.is_superuser = True
        user.set_password(self._password())
        user.save()
        return user

    @transaction.atomic
    def _load(self, user: Any, count: int) -> Project:
        rng = random.Random(42)
        now = timezone.now()
        project = services.project_create(name=DEMO_PROJECT, timezone_name="UTC", owner=user)
        profiles = [
            ProfileRecord(
                external_id=f"demo-{i:04d}",
                fields={"email": f"user{i}@example.com"},
                properties={
                    "first_name": rng.choice(FIRST_NAMES),
                    "city": rng.choice(CITIES),
                    "plan": rng.choice(["free", "free", "pro"]),
                    "flight_time": (now + timedelta(hours=rng.randint(1, 72))).isoformat(),
                },
            )
            for i in range(count)
        ]
        services.profiles_upsert(project=project, records=profiles)
        events: list[EventRecord] = []
        for record in profiles:
            session = secrets.token_hex(8)
            for _ in range(rng.randint(1, 12)):
                ts = now - timedelta(minutes=rng.randint(5, 60 * 24 * 30))
                kind = rng.random()
                if kind < 0.5:
                    url = "https://shop.example.com" + rng.choice(PAGES)
                    props: dict[str, Any] = {
                        "url": url,
                        "referrer": "",
                        "title": "Shop",
                        "session_id": session,
                    }
                    events.append(EventRecord(record.external_id, "Page Viewed", ts, props, None))
                elif kind < 0.75:
                    item, price = rng.choice(ITEMS)
                    events.append(
                        EventRecord(
                            record.external_id,
                            "Added To Cart",
                            ts,
                            {"item": item, "price": price},
                            None,
                        )
                    )
                elif kind < 0.9:
                    events.append(
                        EventRecord(
                            record.external_id,
                            "Charged",
                            ts,
                            {"amount": rng.choice([25, 60, 120, 300])},
                            None,
                        )
                    )
                else:
                    events.append(
                        EventRecord(
                            record.external_id, "Video Watched", ts, {"video": "intro"}, None
                        )
                    )
        for start in range(0, len(events), 1000):
            services.events_ingest(project=project, records=events[start : start + 1000])
        return project
