"""GET /healthz: ready once the database answers and a worker checked in recently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import Client

from engine import tasks
from engine.models import Heartbeat

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_health_is_503_before_any_worker_checked_in() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] != "ok"
    assert response.json()["worker_seen_seconds_ago"] is None


def test_health_is_200_after_the_worker_heartbeat_ran() -> None:
    with time_machine.travel(NOW, tick=False):
        tasks.heartbeat()
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["worker_seen_seconds_ago"] == 0


def test_health_needs_no_authentication() -> None:
    tasks.heartbeat()
    assert Client().get("/healthz").status_code == 200


def test_health_is_503_when_the_heartbeat_is_older_than_the_max_age() -> None:
    max_age = settings.WORKER_HEARTBEAT_MAX_AGE
    with time_machine.travel(NOW, tick=False) as clock:
        tasks.heartbeat()
        clock.shift(timedelta(seconds=max_age))
        assert Client().get("/healthz").status_code == 200
        clock.shift(timedelta(seconds=1))
        response = Client().get("/healthz")
        assert response.status_code == 503
        assert response.json()["status"] == "worker_down"
        # The worker comes back.
        tasks.heartbeat()
        assert Client().get("/healthz").status_code == 200


def test_a_heartbeat_updates_one_row() -> None:
    tasks.heartbeat()
    tasks.heartbeat()
    assert Heartbeat.objects.count() == 1
