"""Opt-in measurement (JOURNEYS_BENCH=1): one batch of 2,000 profiles x 50 events, old vs new."""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from engine.conditions import evaluate_batch
from engine.domain import Filter
from engine.domain.blocks import DidCondition, DidNotCondition
from engine.domain.fields import SumComparison
from engine.models import Event, Profile, Project

from .reference import evaluate_batch_in_python

pytestmark = pytest.mark.skipif(not os.environ.get("JOURNEYS_BENCH"), reason="JOURNEYS_BENCH=1")

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def timed(fn: Callable[[], Any], runs: int = 5) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def test_measure_one_batch(project: Project, capsys: Any) -> None:
    rng = random.Random(7)
    profiles = Profile.objects.bulk_create(
        Profile(project=project, external_id=f"u{i}", properties={"plan": "pro"})
        for i in range(2000)
    )
    events = [
        Event(
            project=project,
            profile=profile,
            name=rng.choice(["Purchase", "Viewed", "Added To Cart"]),
            ts=NOW - timedelta(days=rng.uniform(0, 60)),
            properties={"amount": rng.randint(1, 200), "category": rng.choice(["shoes", "hats"])},
        )
        for profile in profiles
        for _ in range(50)
    ]
    Event.objects.bulk_create(events, batch_size=5000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE engine_event; ANALYZE engine_profile")
    args = {
        "conditions": [
            DidCondition(
                "Purchase",
                where=(Filter("category", "eq", "shoes"),),
                sum=SumComparison("amount", "gte", 300),
            ),
            DidNotCondition("Added To Cart", where=(Filter("amount", "gt", 150),)),
        ],
        "match": "any",
        "window_days": 30,
        "profile_ids": [p.id for p in profiles],
        "now": NOW,
    }
    old, old_result = timed(lambda: evaluate_batch_in_python(**args))
    new, new_result = timed(lambda: evaluate_batch(**args))
    assert new_result == old_result
    with capsys.disabled():
        print(
            f"\n{connection.vendor}: 2,000 profiles x 50 events, 1 batch: "
            f"python path {old * 1000:.0f} ms, one query {new * 1000:.0f} ms "
            f"({old / new:.1f}x)"
        )
