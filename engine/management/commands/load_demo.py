"""``manage.py load_demo``: a demo project, a marketer login and a few hundred profiles.

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
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo project #{project.pk} '{project.name}' (ingest key {project.ingest_key})\n"
                f"Marketer login: username '{DEMO_USERNAME}', password '{password}'  (admin: /admin/)"
            )
        )

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
