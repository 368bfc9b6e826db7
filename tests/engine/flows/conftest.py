"""Harness for engine flow tests: publish journeys, ingest, move the clock, run due work."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from builder import services as builder_services
from builder.models import Journey
from engine import loaders, services, ticker
from engine.ingest import parse_events, parse_profiles
from engine.models import Enrollment, Message, Profile, Project, Step
from engine.work import run_inline
from journeys_site.celery import app as celery_app


@pytest.fixture(autouse=True)
def _fresh_engine_caches() -> Iterator[None]:
    loaders.version.cache_clear()
    loaders._indexes.clear()
    cache.clear()
    yield
    loaders.version.cache_clear()
    loaders._indexes.clear()
    cache.clear()


class Engine:
    """Drives the engine the way production does, but synchronously."""

    def __init__(self, project: Project, user: Any, capture: Any, traveller: Any) -> None:
        self.project = project
        self.user = user
        self._capture = capture
        self.clock = traveller

    def _committed(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with self._capture(execute=True):
            return fn(*args, **kwargs)

    def publish(self, definition: dict[str, Any], name: str = "Journey") -> Journey:
        journey = self._committed(
            builder_services.journey_create,
            project=self.project,
            user=self.user,
            name=name,
            definition=definition,
        )
        return self._committed(builder_services.journey_publish, journey=journey, user=self.user)

    def lifecycle(self, action: str, journey: Journey) -> Journey:
        journey.refresh_from_db()
        fn = getattr(builder_services, f"journey_{action}")
        return self._committed(fn, journey=journey, user=self.user)

    def track(self, profile_id: str, name: str, **properties: Any) -> None:
        self.events({"profile_id": profile_id, "name": name, "properties": properties})

    def events(self, *events: dict[str, Any]) -> None:
        records = parse_events({"events": list(events)}, now=timezone.now(), max_items=1000)
        self._committed(services.events_ingest, project=self.project, records=records)

    def profile(self, profile_id: str, **properties: Any) -> Profile:
        records = parse_profiles(
            {"profiles": [{"id": profile_id, "properties": properties}]}, max_items=1000
        )
        self._committed(services.profiles_upsert, project=self.project, records=records)
        return Profile.objects.get(project=self.project, external_id=profile_id)

    def run_due(self) -> int:
        done = 0
        while True:
            with self._capture(execute=True):
                work = ticker.collect(timezone.now())
                for kind, args in work:
                    run_inline(kind, args)
            done += len(work)
            if not work:
                return done

    def advance(self, **delta: float) -> None:
        """Move the clock forward and run what came due."""
        self.clock.shift(timedelta(**delta))
        self.run_due()

    # --- additions for the flow suite ------------------------------------------------------
    def page(
        self,
        profile_id: str,
        url: str,
        *,
        referrer: str = "",
        session_id: str = "s1",
        **extra: Any,
    ) -> None:
        """A page view as the web SDK sends it."""
        self.track(
            profile_id,
            "Page Viewed",
            url=url,
            referrer=referrer,
            title="Page",
            session_id=session_id,
            **extra,
        )

    def track_at(self, profile_id: str, name: str, ts: datetime, **properties: Any) -> None:
        """An event that happened at ``ts`` (client time), received now."""
        self.events(
            {"profile_id": profile_id, "name": name, "ts": ts.isoformat(), "properties": properties}
        )

    def set_timezone(self, tz: str) -> None:
        """Give the project another zone; its daily run restarts from today's local date."""
        Project.objects.filter(pk=self.project.pk).update(timezone=tz, daily_run_on=None)
        self.project.refresh_from_db()
        self.run_due()  # the ticker notes today's local date, as it does every second live

    def move_to(self, when: datetime) -> None:
        """Jump the clock to an absolute moment (no due work is run)."""
        self.clock.move_to(when)

    def local_now(self) -> datetime:
        from zoneinfo import ZoneInfo

        return timezone.now().astimezone(ZoneInfo(self.project.timezone))

    def next_local_midnight(self) -> datetime:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(self.project.timezone)
        local = self.local_now()
        day = local.date() + timedelta(days=1)
        return datetime(day.year, day.month, day.day, tzinfo=zone)

    def until_midnight(self, after: timedelta = timedelta(seconds=1)) -> None:
        """Advance to just past the project's next 12:00 am and run due work."""
        target = self.next_local_midnight() + after
        self.clock.move_to(target)
        self.run_due()

    def run_daily(self) -> None:
        with self._capture(execute=True):
            call_command("run_daily_evaluations", project=self.project.pk, stdout=_Sink())

    def run_due_work_command(self) -> None:
        with self._capture(execute=True):
            call_command("run_due_work", stdout=_Sink())

    def journey(self, journey: Journey) -> Journey:
        journey.refresh_from_db()
        return journey

    def enrollments(self, journey: Journey, profile_id: str | None = None) -> list[Enrollment]:
        qs = Enrollment.objects.exclude(state__in=["cancelled", "candidate"]).filter(
            journey=journey
        )
        if profile_id is not None:
            qs = qs.filter(profile__external_id=profile_id)
        return list(qs.order_by("id"))

    def entered(self, journey: Journey, profile_id: str) -> bool:
        return bool(self.enrollments(journey, profile_id))

    def outcome(self, journey: Journey, profile_id: str, node: str) -> str | None:
        """The outcome of the (last) step at ``node``, or None if the user never left it."""
        outcomes = [o for n, o in self.path(journey, profile_id) if n == node]
        return outcomes[-1] if outcomes else None

    def sent_to(self, journey: Journey, node: str) -> list[str]:
        return sorted(m.profile.external_id for m in self.messages(journey, node))

    # --- reading ---------------------------------------------------------------------------
    def enrollment(self, journey: Journey, profile_id: str) -> Enrollment:
        """The user's latest stay in the journey; a pending candidate only if there is none."""
        qs = Enrollment.objects.exclude(state="cancelled").filter(
            journey=journey, profile__external_id=profile_id
        )
        stays = qs.exclude(state="candidate")
        return (stays if stays.exists() else qs).latest("id")

    def at(self, journey: Journey, profile_id: str) -> tuple[str, str, str]:
        e = self.enrollment(journey, profile_id)
        return e.state, e.node, e.exit_reason

    def messages(self, journey: Journey, node: str | None = None) -> list[Message]:
        qs = Message.objects.filter(journey=journey).order_by("id")
        return list(qs.filter(node=node) if node else qs)

    def path(self, journey: Journey, profile_id: str) -> list[tuple[str, str]]:
        return list(
            Step.objects.filter(journey=journey, profile__external_id=profile_id)
            .order_by("id")
            .values_list("node", "outcome")
        )


@pytest.fixture
def engine(
    project: Project, marketer: Any, django_capture_on_commit_callbacks: Any, settings: Any
) -> Iterator[Engine]:
    _ = celery_app.conf.broker_url  # load the lazy config first, or it overwrites what we set
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    with time_machine.travel(
        datetime(2026, 11, 28, 10, 0, tzinfo=timezone.get_default_timezone()), tick=False
    ) as traveller:
        harness = Engine(project, marketer, django_capture_on_commit_callbacks, traveller)
        harness.run_due()  # like the live ticker: note the project's local date
        yield harness
    celery_app.conf.task_always_eager = False


class _Sink:
    def write(self, *_: Any, **__: Any) -> None:
        pass

    def flush(self) -> None:
        pass


# --- definition builders ---------------------------------------------------------------------


def define(
    entry: dict[str, Any],
    nodes: list[dict[str, Any]] | None = None,
    edges: list[tuple[str, str] | tuple[str, str, str]] | None = None,
    goals: list[dict[str, Any]] | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """A definition; edges as (from, to) or (from, to, branch)."""
    entry = {"id": "entry", **entry}
    out_edges = []
    for edge in edges or []:
        item = {"from": edge[0], "to": edge[1]}
        if len(edge) == 3:
            item["branch"] = edge[2]
        elif edge[0] == "entry":
            item["branch"] = "yes"
        out_edges.append(item)
    definition: dict[str, Any] = {
        "settings": {"allow_reentry": False, **settings},
        "entry": entry,
        "nodes": nodes or [],
        "edges": out_edges,
    }
    if goals:
        definition["goals"] = goals
    return definition


def sms(node_id: str, body: str = "Hi") -> dict[str, Any]:
    return {"id": node_id, "type": "sms", "body": body}


def push(node_id: str, title: str = "Hey", body: str = "Hi") -> dict[str, Any]:
    return {"id": node_id, "type": "push", "title": title, "body": body}


def delay(node_id: str, duration: str) -> dict[str, Any]:
    return {"id": node_id, "type": "delay", "duration": duration}


START = {"type": "action", "event": "Start"}


def split(
    block: dict[str, Any], entry: dict[str, Any] | None = None, **settings: Any
) -> dict[str, Any]:
    """Entry (default: action "Start") -> ``block`` (id "seg") -> yes: sms "y", no: sms "n"."""
    return define(
        entry or START,
        [{"id": "seg", **block}, sms("y", "yes"), sms("n", "no")],
        [("entry", "seg"), ("seg", "y", "yes"), ("seg", "n", "no")],
        **settings,
    )


def entry_only(entry: dict[str, Any], **settings: Any) -> dict[str, Any]:
    """``entry`` -> sms "hello"."""
    return define(entry, [sms("hello", "Hello")], [("entry", "hello")], **settings)
