"""Celery tasks of the engine (thin: they call services)."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready
from django.utils import timezone

from engine.models import Heartbeat


def record_heartbeat(name: str = "worker") -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})


@shared_task(name="engine.heartbeat", acks_late=False, ignore_result=True)
def heartbeat() -> None:
    """Run by the worker every few seconds (beat): proves a worker takes tasks."""
    record_heartbeat()


@worker_ready.connect
def _on_worker_ready(**_: object) -> None:
    record_heartbeat()
