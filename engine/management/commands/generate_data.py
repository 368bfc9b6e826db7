"""``manage.py generate_data``: synthetic profiles and events at scale, loaded with COPY.

Realistic enough for benchmarks: a power-law of activity (a few profiles make most of
the events), a catalogue of 20 event names with their properties, SDK-style client ids
(UUIDs) and timestamps spread over the last ``--days`` days. On PostgreSQL the rows go
through ``COPY ... FROM STDIN`` (psycopg 3); above ``--rebuild-above`` events the events
table's secondary indexes are dropped for the load and rebuilt after it, with the same
definitions (a bulk load is several times faster that way). On SQLite, a plain
``bulk_create`` (meant for small N).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from engine.models import Event, Profile, Project

# name -> (weight, property makers); weights are relative frequencies.
CATALOGUE: dict[str, tuple[float, dict[str, Any]]] = {
    "Page Viewed": (30, {"path": ["/", "/pricing", "/blog", "/docs", "/shop"]}),
    "Screen Viewed": (12, {"screen": ["home", "feed", "profile", "settings"]}),
    "Video Watched": (8, {"video_id": range(1, 400), "seconds": range(5, 900)}),
    "Searched": (7, {"query": ["shoes", "socks", "jacket", "hat", "bag"]}),
    "Product Viewed": (7, {"sku": range(1000, 1300), "price": [15, 25, 49, 120, 180]}),
    "Added To Cart": (4, {"sku": range(1000, 1300), "quantity": range(1, 5)}),
    "Removed From Cart": (1, {"sku": range(1000, 1300)}),
    "Checkout Started": (2, {"items": range(1, 6)}),
    "Charged": (2, {"amount": [9.99, 19, 25, 49.5, 120, 180, 300], "currency": ["USD", "EUR"]}),
    "Subscription Paid": (0.6, {"plan": ["basic", "pro"], "amount": [9, 29]}),
    "Subscription Cancelled": (0.2, {"plan": ["basic", "pro"]}),
    "Signed Up": (0.5, {"source": ["ads", "organic", "referral"]}),
    "Logged In": (6, {"method": ["password", "google", "apple"]}),
    "Logged Out": (2, {}),
    "Notification Opened": (3, {"campaign": ["welcome", "winback", "promo"]}),
    "Email Clicked": (2, {"campaign": ["welcome", "winback", "promo"]}),
    "Shared": (1, {"network": ["x", "facebook", "whatsapp"]}),
    "Rated": (0.5, {"stars": range(1, 6)}),
    "Error Shown": (1, {"code": [400, 404, 500]}),
    "App Opened": (10, {"version": ["1.0", "1.1", "2.0"], "os": ["ios", "android", "web"]}),
}
PLANS = ["free", "free", "free", "basic", "pro"]
COUNTRIES = ["US", "IN", "DE", "FR", "BR", "NG", "JP", "GB"]
TIMEZONES = ["UTC", "Europe/Paris", "Asia/Kolkata", "America/New_York", "Asia/Tokyo"]
CHUNK = 50_000


def _properties(rng: random.Random, makers: dict[str, Any]) -> str:
    """A JSON object of the event's properties (no backslash, tab or newline: COPY-safe)."""
    return json.dumps({key: rng.choice(values) for key, values in makers.items()})


class Command(BaseCommand):
    help = "Generate synthetic profiles and events (power-law activity) for benchmarks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--profiles", type=int, default=1000)
        parser.add_argument("--events", type=int, default=20_000)
        parser.add_argument("--days", type=int, default=60)
        parser.add_argument("--project", type=int, help="Project id (default: a new project)")
        parser.add_argument("--seed", type=int, default=12)
        parser.add_argument(
            "--rebuild-above",
            type=int,
            default=1_000_000,
            help="PostgreSQL: drop and rebuild the events indexes above this many events",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        profiles, events, days = options["profiles"], options["events"], options["days"]
        if profiles < 1 or events < 0 or days < 1:
            raise CommandError("--profiles and --days must be >= 1, --events >= 0")
        if options["project"] is not None:
            project = Project.objects.filter(id=options["project"]).first()
            if project is None:
                raise CommandError(f"--project: no project with id {options['project']}")
        else:
            project = Project.objects.create(name=f"Generated {timezone.now():%Y-%m-%d %H:%M}")
        rng = random.Random(options["seed"])
        now = timezone.now()
        tag = uuid.UUID(int=rng.getrandbits(128)).hex[:8]
        started = time.perf_counter()
        if connection.vendor == "postgresql":
            rebuild = events > options["rebuild_above"]
            ids = self._copy_profiles(project, profiles, tag, rng, now)
            loaded = time.perf_counter()
            self._copy_events(project, ids, events, days, rng, now, rebuild)
        else:
            ids = self._bulk_profiles(project, profiles, tag, rng, now)
            loaded = time.perf_counter()
            self._bulk_events(project, ids, events, days, rng, now)
        done = time.perf_counter()
        self.stdout.write(
            f"project {project.id}: {profiles} profiles in {loaded - started:.1f} s, "
            f"{events} events in {done - loaded:.1f} s"
        )

    # --- rows ------------------------------------------------------------------------

    def _profile_rows(
        self, count: int, tag: str, rng: random.Random
    ) -> Iterator[tuple[str, str, str, str]]:
        for i in range(count):
            external = f"gen-{tag}-{i}"
            properties = json.dumps(
                {
                    "plan": rng.choice(PLANS),
                    "country": rng.choice(COUNTRIES),
                    "age": rng.randint(16, 80),
                    "vip": rng.random() < 0.05,
                }
            )
            yield external, f"{external}@example.com", rng.choice(TIMEZONES), properties

    def _event_rows(
        self, ids: list[int], count: int, days: int, rng: random.Random, now: datetime
    ) -> Iterator[list[tuple[int, str, datetime, str, str]]]:
        """Chunks of (profile id, name, ts, properties JSON, client id)."""
        # Power law: each profile's activity is Pareto-distributed (alpha 1.2).
        cum_profiles = list(accumulate(min(rng.paretovariate(1.2), 1000.0) for _ in ids))
        names = list(CATALOGUE)
        cum_names = list(accumulate(CATALOGUE[n][0] for n in names))
        # A pool of property objects per name, so JSON is not encoded per row.
        pools = {n: [_properties(rng, CATALOGUE[n][1]) for _ in range(256)] for n in names}
        span = days * 86_400
        start = now - timedelta(seconds=span)
        made = 0
        while made < count:
            size = min(CHUNK, count - made)
            who = rng.choices(ids, cum_weights=cum_profiles, k=size)
            what = rng.choices(names, cum_weights=cum_names, k=size)
            rows = []
            for pid, name in zip(who, what, strict=True):
                ts = start + timedelta(seconds=rng.random() * span)
                client = uuid.UUID(int=rng.getrandbits(128), version=4)
                rows.append((pid, name, ts, rng.choice(pools[name]), str(client)))
            made += size
            yield rows

    # --- PostgreSQL: COPY ------------------------------------------------------------

    def _copy_profiles(
        self, project: Project, count: int, tag: str, rng: random.Random, now: datetime
    ) -> list[int]:
        table = Profile._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(
                f"COPY {table} (project_id, external_id, email, phone, timezone, properties,"
                " push_tokens, anonymous, identified_at, created_at, updated_at) FROM STDIN"
            ) as copy:
                for external, email, tz, properties in self._profile_rows(count, tag, rng):
                    copy.write_row(
                        (
                            project.id,
                            external,
                            email,
                            "",
                            tz,
                            properties,
                            "[]",
                            False,
                            now,
                            now,
                            now,
                        )
                    )
            cursor.execute(
                f"SELECT id FROM {table} WHERE project_id = %s AND external_id LIKE %s ORDER BY id",
                [project.id, f"gen-{tag}-%"],
            )
            return [row[0] for row in cursor.fetchall()]

    def _copy_events(
        self,
        project: Project,
        ids: list[int],
        count: int,
        days: int,
        rng: random.Random,
        now: datetime,
        rebuild: bool,
    ) -> None:
        table = Event._meta.db_table
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            definitions: list[str] = []
            if rebuild:
                cursor.execute(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s"
                    " AND indexname NOT IN (SELECT conname FROM pg_constraint"
                    " WHERE contype = 'p')",
                    [table],
                )
                for name, definition in cursor.fetchall():
                    definitions.append(definition)
                    cursor.execute(f'DROP INDEX "{name}"')
                # The rows are consistent by construction: skip the per-row FK checks.
                cursor.execute("SET LOCAL session_replication_role = replica")
            raw = cursor.cursor
            with raw.copy(
                f"COPY {table} (project_id, profile_id, name, ts, properties, client_id,"
                " received_at) FROM STDIN"
            ) as copy:
                for rows in self._event_rows(ids, count, days, rng, now):
                    for pid, name, ts, properties, client in rows:
                        copy.write_row((project.id, pid, name, ts, properties, client, ts))
            self.stdout.write(f"events copied in {time.perf_counter() - started:.1f} s")
            if definitions:
                cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for definition in definitions:
                self.stdout.write(f"rebuilding: {definition}")
                cursor.execute(definition)
        with connection.cursor() as cursor:
            # VACUUM sets the visibility map: index-only scans skip the heap. (It cannot
            # run in a transaction, e.g. a test's: then only ANALYZE.)
            vacuum = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
            cursor.execute(f"{vacuum} {table}")
            cursor.execute(f"ANALYZE {Profile._meta.db_table}")

    # --- SQLite (or any database): bulk_create --------------------------------------

    def _bulk_profiles(
        self, project: Project, count: int, tag: str, rng: random.Random, now: datetime
    ) -> list[int]:
        rows = [
            Profile(
                project=project,
                external_id=external,
                email=email,
                timezone=tz,
                properties=json.loads(properties),
                identified_at=now,
            )
            for external, email, tz, properties in self._profile_rows(count, tag, rng)
        ]
        with transaction.atomic():
            Profile.objects.bulk_create(rows, batch_size=2000)
        return list(
            Profile.objects.filter(project=project, external_id__startswith=f"gen-{tag}-")
            .order_by("id")
            .values_list("id", flat=True)
        )

    def _bulk_events(
        self,
        project: Project,
        ids: list[int],
        count: int,
        days: int,
        rng: random.Random,
        now: datetime,
    ) -> None:
        with transaction.atomic():
            for rows in self._event_rows(ids, count, days, rng, now):
                Event.objects.bulk_create(
                    [
                        Event(
                            project=project,
                            profile_id=pid,
                            name=name,
                            ts=ts,
                            properties=json.loads(properties),
                            client_id=client,
                        )
                        for pid, name, ts, properties, client in rows
                    ],
                    batch_size=2000,
                )
