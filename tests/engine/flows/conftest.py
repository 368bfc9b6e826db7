"""Harness for engine flow tests: publish journeys, ingest, move the clock, run due work."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
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

    # --- reading ---------------------------------------------------------------------------
    def enrollment(self, journey: Journey, profile_id: str) -> Enrollment:
        return (
            Enrollment.objects.exclude(state="cancelled")
            .filter(journey=journey, profile__external_id=profile_id)
            .latest("id")
        )

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
        yield Engine(project, marketer, django_capture_on_commit_callbacks, traveller)
    celery_app.conf.task_always_eager = False
