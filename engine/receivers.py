"""Wires ingest and builder signals to the engine's tasks (after commit, so workers see the rows)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from builder.signals import journey_changed
from engine import signals, tasks


@receiver(signals.events_stored)
def on_events_stored(*, project_id: int, event_ids: list[int], **_: Any) -> None:
    from engine import inbox

    # One task per project takes every committed request's events at once (inbox.py).
    inbox.schedule(project_id)


@receiver(signals.profiles_changed)
def on_profiles_changed(*, project_id: int, profile_ids: list[int], **_: Any) -> None:
    from engine import loaders

    # Profile data matters to running journeys only through Date Time entries and blocks.
    if loaders.trigger_index(project_id).profile_dates:
        tasks.profiles_changed.delay(project_id, profile_ids)


@receiver(journey_changed)
def on_journey_changed(*, journey_id: int, project_id: int, status: str, **_: Any) -> None:
    from engine import loaders

    # This process's index goes stale at once; the workers learn it through the cache.
    loaders.invalidate(project_id)
    tasks.journey_changed.delay(journey_id, project_id, status)
