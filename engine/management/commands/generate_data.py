"""``manage.py generate_data``: synthetic profiles and events at scale, loaded with COPY.

Realistic enough for benchmarks: a power-law of activity (a few profiles make most of
the events), a catalogue of 20 event names with their properties, SDK-style client ids
(UUID v4 text) and timestamps spread over the last ``--days`` days.

The rows are made as COPY text by cheap code (no ``uuid``/``datetime`` object per row:
client ids from ``randbytes``, timestamps from a per-minute text cache, properties from
a pool of JSON objects per name). On PostgreSQL they go through ``COPY ... FROM STDIN``
(psycopg 3). Above ``--rebuild-above`` events the events table's secondary indexes are
dropped for the load and rebuilt from their own definitions afterwards; outside a
transaction such a load is split over ``--workers`` processes, each making and COPYing
its share on its own connection, and the indexes are rebuilt side by side. On SQLite
the same rows go through ``bulk_create`` (meant for small N).
"""

from __future__ import annotations

import json
import multiprocessing
import random
import time
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import pairwise
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
POOL = 256  # property objects per event name (one random byte picks one)
EVENT_COLUMNS = "project_id, profile_id, name, ts, properties, client_id, received_at"


def _properties(rng: random.Random, makers: dict[str, Any]) -> str:
    """A JSON object of the event's properties (no backslash, tab or newline: COPY-safe)."""
    return json.dumps({key: rng.choice(values) for key, values in makers.items()})


def power_law_weights(count: int, rng: random.Random) -> list[float]:
    """Each profile's share of the events: Pareto-distributed (alpha 1.2, capped at 1,000
    times the smallest), so a tenth of the profiles make most of the events."""
    return [min(rng.paretovariate(1.2), 1000.0) for _ in range(count)]


def _slots(values: Sequence[Any], weights: Sequence[float], size: int) -> list[Any]:
    """A table of ``size`` slots where each value holds a share of slots proportional to
    its weight (at least one): a uniform random slot picks a value by weight, with one
    list index instead of a bisect per pick."""
    scale = size / sum(weights)
    table: list[Any] = []
    for value, weight in zip(values, weights, strict=True):
        table.extend([value] * max(1, round(weight * scale)))
    return table


def event_text(
    project_id: int,
    ids: Sequence[int],
    weights: Sequence[float],
    count: int,
    days: int,
    seed: int,
    now: datetime,
) -> Iterator[str]:
    """Chunks of COPY text lines (the columns of ``EVENT_COLUMNS``), ``CHUNK`` rows each.

    Per row only list indexing and one f-string: the profile and the name are picked from
    weighted slot tables, the properties from a pool per name, the timestamp (to the
    millisecond, as the SDKs send it) from a per-minute prefix and a second-and-
    millisecond suffix, the client id (UUID v4 text) sliced out of one hex string.
    """
    rng = random.Random(seed)
    names = list(CATALOGUE)
    # Slot tables sized so a profile of the smallest weight still gets about one slot.
    who_slots = _slots(ids, weights, max(1 << 16, 8 * len(ids)))
    # A pool of property objects per name, so JSON is not encoded per row.
    pools = [[_properties(rng, CATALOGUE[n][1]) for _ in range(POOL)] for n in names]
    # "<project>\t{profile}\t" comes first; the name and its pool go with the name slot.
    heads = [(f"\t{n}\t", pool) for n, pool in zip(names, pools, strict=True)]
    name_slots = _slots(heads, [CATALOGUE[n][0] for n in names], 4096)
    minutes = days * 1440
    first = int(now.timestamp()) // 60 - minutes
    prefixes = [
        datetime.fromtimestamp((first + m) * 60, UTC).strftime("%Y-%m-%d %H:%M:")
        for m in range(minutes)
    ]
    suffixes = [f"{ms // 1000:02d}.{ms % 1000:03d}+00" for ms in range(60_000)]
    spots = minutes * 60_000
    n_who, n_name = len(who_slots), len(name_slots)
    lead = f"{project_id}\t"
    made = 0
    while made < count:
        size = min(CHUNK, count - made)
        # Two 64-bit random words per row: one picks profile, name and properties, the
        # other the moment (bias of the modulo < 2^-20).
        picks = array("Q", rng.randbytes(8 * size))
        moments = array("Q", rng.randbytes(8 * size))
        hexes = rng.randbytes(16 * size).hex()
        lines = []
        j = 0
        for pick, moment in zip(picks, moments, strict=True):
            name, pool = name_slots[(pick >> 8) % n_name]
            minute, ms = divmod(moment % spots, 60_000)
            ts = prefixes[minute] + suffixes[ms]
            lines.append(
                f"{lead}{who_slots[(pick >> 24) % n_who]}{name}{ts}\t{pool[pick & 255]}\t"
                f"{hexes[j : j + 8]}-{hexes[j + 8 : j + 12]}-4{hexes[j + 13 : j + 16]}-"
                f"a{hexes[j + 17 : j + 20]}-{hexes[j + 20 : j + 32]}\t{ts}\n"
            )
            j += 32
        made += size
        yield "".join(lines)


def profile_rows(
    start: int, count: int, tag: str, rng: random.Random
) -> Iterator[tuple[str, str, str, str]]:
    """(external id, email, time zone, properties JSON) of profiles start .. start+count-1."""
    plans = rng.choices(PLANS, k=count)
    countries = rng.choices(COUNTRIES, k=count)
    zones = rng.choices(TIMEZONES, k=count)
    for n in range(count):
        external = f"gen-{tag}-{start + n}"
        vip = "true" if rng.random() < 0.05 else "false"
        properties = (
            f'{{"plan": "{plans[n]}", "country": "{countries[n]}", '
            f'"age": {rng.randint(16, 80)}, "vip": {vip}}}'
        )
        yield external, f"{external}@example.com", zones[n], properties


PROFILE_COLUMNS = (
    "project_id, external_id, email, timezone, phone, properties, push_tokens, anonymous,"
    " identified_at, created_at, updated_at"
)
PARALLEL_PROFILES = 100_000  # outside a transaction, more profiles than this: --workers


def profile_text(
    project_id: int, start: int, count: int, tag: str, seed: int, stamp: str
) -> Iterator[str]:
    """Chunks of COPY text lines (the columns of ``PROFILE_COLUMNS``)."""
    tail = f"\t[]\tf\t{stamp}\t{stamp}\t{stamp}\n"
    lines: list[str] = []
    for external, email, tz, properties in profile_rows(start, count, tag, random.Random(seed)):
        # phone (after the time zone) is empty.
        lines.append(f"{project_id}\t{external}\t{email}\t{tz}\t\t{properties}{tail}")
        if len(lines) == CHUNK:
            yield "".join(lines)
            lines = []
    yield "".join(lines)


def _copy_profile_share(
    params: dict[str, Any], project_id: int, start: int, count: int, tag: str, seed: int, stamp: str
) -> None:
    import psycopg

    table = Profile._meta.db_table
    with (
        psycopg.connect(**params) as conn,
        conn.cursor() as cur,
        cur.copy(f"COPY {table} ({PROFILE_COLUMNS}) FROM STDIN") as copy,
    ):
        for text in profile_text(project_id, start, count, tag, seed, stamp):
            copy.write(text)


@dataclass(frozen=True)
class EventLoad:
    """What to generate: ``count`` events of these profiles (by weight) over ``days``."""

    project_id: int
    ids: Sequence[int]
    weights: Sequence[float]
    count: int
    days: int
    seed: int
    now: datetime

    def text(self) -> Iterator[str]:
        return event_text(
            self.project_id, self.ids, self.weights, self.count, self.days, self.seed, self.now
        )


def _copy_share(params: dict[str, Any], load: EventLoad) -> None:
    """One worker's share of the events, made and COPYed on its own connection."""
    import psycopg

    with psycopg.connect(**params) as conn, conn.cursor() as cur:
        # The rows are consistent by construction: skip the per-row FK checks.
        cur.execute("SET session_replication_role = replica")
        with cur.copy(f"COPY {Event._meta.db_table} ({EVENT_COLUMNS}) FROM STDIN") as copy:
            for text in load.text():
                copy.write(text)


def _build_index(params: dict[str, Any], definition: str) -> None:
    import psycopg

    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute(definition)


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
        parser.add_argument(
            "--workers",
            type=int,
            default=2,
            help="PostgreSQL, above --rebuild-above and outside a transaction: processes "
            "making and COPYing events side by side (default 2)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        profiles, events, days = options["profiles"], options["events"], options["days"]
        if profiles < 1 or events < 0 or days < 1 or options["workers"] < 1:
            raise CommandError("--profiles, --days and --workers must be >= 1, --events >= 0")
        if options["project"] is not None:
            project = Project.objects.filter(id=options["project"]).first()
            if project is None:
                raise CommandError(f"--project: no project with id {options['project']}")
        else:
            project = Project.objects.create(name=f"Generated {timezone.now():%Y-%m-%d %H:%M}")
        rng = random.Random(options["seed"])
        now = timezone.now()
        tag = rng.randbytes(4).hex()
        started = time.perf_counter()
        if connection.vendor == "postgresql":
            ids = self._copy_profiles(project, profiles, tag, rng, now, options["workers"])
        else:
            ids = self._bulk_profiles(project, profiles, tag, rng, now)
        loaded = time.perf_counter()
        load = EventLoad(
            project.id,
            ids,
            power_law_weights(len(ids), rng),
            events,
            days,
            rng.getrandbits(64),
            now,
        )
        if connection.vendor != "postgresql":
            self._bulk_events(project, load)
        elif events > options["rebuild_above"] and not connection.in_atomic_block:
            self._parallel_events(load, options["workers"])
        else:
            self._copy_events(load, rebuild=events > options["rebuild_above"])
        done = time.perf_counter()
        self.stdout.write(
            f"project {project.id}: {profiles} profiles in {loaded - started:.1f} s, "
            f"{events} events in {done - loaded:.1f} s"
        )

    # --- rows ------------------------------------------------------------------------

    # --- PostgreSQL: COPY ------------------------------------------------------------

    def _copy_profiles(
        self,
        project: Project,
        count: int,
        tag: str,
        rng: random.Random,
        now: datetime,
        workers: int,
    ) -> list[int]:
        table = Profile._meta.db_table
        stamp = now.isoformat()
        seed = rng.getrandbits(64)
        if workers > 1 and count > PARALLEL_PROFILES and not connection.in_atomic_block:
            # Each worker COPYs a range of external ids on its own connection.
            params = connection.get_connection_params()
            connection.close()  # not shared with forked workers
            context = multiprocessing.get_context("fork")
            bounds = [count * i // workers for i in range(workers + 1)]
            processes = [
                context.Process(
                    target=_copy_profile_share,
                    args=(params, project.id, lo, hi - lo, tag, seed + i, stamp),
                )
                for i, (lo, hi) in enumerate(pairwise(bounds))
            ]
            for process in processes:
                process.start()
            for process in processes:
                process.join()
            if any(p.exitcode for p in processes):
                raise CommandError("a profile worker failed; see its error above")
        else:
            with (
                transaction.atomic(),
                connection.cursor() as cursor,
                cursor.cursor.copy(f"COPY {table} ({PROFILE_COLUMNS}) FROM STDIN") as copy,
            ):
                for text in profile_text(project.id, 0, count, tag, seed, stamp):
                    copy.write(text)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {table} WHERE project_id = %s AND external_id LIKE %s ORDER BY id",
                [project.id, f"gen-{tag}-%"],
            )
            return [row[0] for row in cursor.fetchall()]

    def _secondary_indexes(self, cursor: Any) -> list[tuple[str, str]]:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype = 'p')",
            [Event._meta.db_table],
        )
        return list(cursor.fetchall())

    def _vacuum(self) -> None:
        with connection.cursor() as cursor:
            # VACUUM sets the visibility map: index-only scans skip the heap. (It cannot
            # run in a transaction, e.g. a test's: then only ANALYZE.)
            vacuum = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
            cursor.execute(f"{vacuum} {Event._meta.db_table}")
            cursor.execute(f"ANALYZE {Profile._meta.db_table}")

    def _copy_events(self, load: EventLoad, *, rebuild: bool) -> None:
        """One transaction, this connection (small loads, or inside a transaction)."""
        table = Event._meta.db_table
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            definitions: list[str] = []
            if rebuild:
                for name, definition in self._secondary_indexes(cursor):
                    definitions.append(definition)
                    cursor.execute(f'DROP INDEX "{name}"')
                # The rows are consistent by construction: skip the per-row FK checks.
                cursor.execute("SET LOCAL session_replication_role = replica")
            with cursor.cursor.copy(f"COPY {table} ({EVENT_COLUMNS}) FROM STDIN") as copy:
                for text in load.text():
                    copy.write(text)
            self.stdout.write(f"events copied in {time.perf_counter() - started:.1f} s")
            if definitions:
                cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for definition in definitions:
                cursor.execute(definition)
        self._vacuum()

    def _parallel_events(self, load: EventLoad, workers: int) -> None:
        """A large load outside a transaction: the secondary indexes are dropped (committed,
        so the workers' COPYs do not wait on the lock), ``--workers`` processes make and
        COPY their shares on their own connections, then the indexes are rebuilt side by
        side, each on its own connection. Meant for a database nothing else writes to
        meanwhile (the client-id constraint is absent during the load)."""
        started = time.perf_counter()
        with connection.cursor() as cursor:
            indexes = self._secondary_indexes(cursor)
            for name, _definition in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
        params = connection.get_connection_params()
        connection.close()  # not shared with forked workers
        context = multiprocessing.get_context("fork")
        try:
            count = load.count
            shares = [count // workers + (1 if i < count % workers else 0) for i in range(workers)]
            processes = [
                context.Process(
                    target=_copy_share,
                    args=(params, replace(load, count=share, seed=load.seed + i)),
                )
                for i, share in enumerate(shares)
            ]
            for process in processes:
                process.start()
            for process in processes:
                process.join()
            failed = [p.exitcode for p in processes if p.exitcode]
            self.stdout.write(
                f"events copied in {time.perf_counter() - started:.1f} s by {workers} workers"
            )
        finally:
            rebuilding = time.perf_counter()
            builders = [
                context.Process(target=_build_index, args=(params, definition))
                for _name, definition in indexes
            ]
            for process in builders:
                process.start()
            for process in builders:
                process.join()
            self.stdout.write(
                f"{len(builders)} indexes rebuilt in {time.perf_counter() - rebuilding:.1f} s"
            )
        if failed or any(p.exitcode for p in builders):
            raise CommandError(f"a worker failed (exit codes {failed}); see its error above")
        vacuuming = time.perf_counter()
        self._vacuum()
        self.stdout.write(f"vacuumed in {time.perf_counter() - vacuuming:.1f} s")

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
            for external, email, tz, properties in profile_rows(0, count, tag, rng)
        ]
        with transaction.atomic():
            Profile.objects.bulk_create(rows, batch_size=2000)
        return list(
            Profile.objects.filter(project=project, external_id__startswith=f"gen-{tag}-")
            .order_by("id")
            .values_list("id", flat=True)
        )

    def _bulk_events(self, project: Project, load: EventLoad) -> None:
        with transaction.atomic():
            for text in load.text():
                events = []
                for line in text.splitlines():
                    _project, pid, name, ts, properties, client, _received = line.split("\t")
                    events.append(
                        Event(
                            project=project,
                            profile_id=int(pid),
                            name=name,
                            ts=datetime.fromisoformat(ts),
                            properties=json.loads(properties),
                            client_id=client,
                        )
                    )
                Event.objects.bulk_create(events, batch_size=2000)
