"""The batch query observes; the verdict and its detail come from the pure evaluator alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine import conditions
from engine.domain import evaluation
from engine.domain.blocks import DidCondition
from engine.models import Project
from tests.factories import EventFactory, ProfileFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_evaluate_batch_judges_through_the_pure_evaluator(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = ProfileFactory(project=project)
    EventFactory(project=project, profile=profile, name="Charged", ts=NOW)
    calls: list[tuple[int, Any]] = []

    def spy(condition: Any, *, count: int, total: Any, profile: Any) -> tuple[bool, dict[str, Any]]:
        calls.append((count, total))
        return True, {"kind": "spy"}

    monkeypatch.setattr(evaluation, "judge", spy)
    result = conditions.evaluate_batch(
        conditions=[DidCondition("Charged")],
        match="all",
        window_days=7,
        profile_ids=[profile.pk],
        now=NOW,
    )
    assert calls == [(1, None)]
    assert result[profile.pk] == (
        True,
        {"match": "all", "conditions": [{"kind": "spy", "met": True}], "window_days": 7},
    )
