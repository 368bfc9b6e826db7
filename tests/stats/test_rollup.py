"""The hourly step rollup (PostgreSQL triggers) always sums to the step log's own counts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from django.conf import settings
from django.db.models import Sum

from builder.models import Journey
from engine.models import Enrollment, Step
from stats import selectors
from stats.frames import Frame
from stats.models import StepHour
from tests.stats.conftest import Engine
from tests.stats.journeys import GOALS_AND_CONVERSION

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not settings.DATABASE_IS_POSTGRES, reason="the rollup is PostgreSQL's"),
]


def raw(journey: Journey, frame: Frame) -> Counter[tuple[str, str]]:
    return Counter(
        {(node, branch): n for node, branch, n in selectors._raw_step_counts(journey, frame)}
    )


def rolled(journey: Journey, frame: Frame) -> Counter[tuple[str, str]]:
    return Counter(
        {
            (node, branch): n
            for node, branch, n in selectors.step_counts(journey=journey, frame=frame)
        }
    )


@pytest.fixture
def journey(engine: Engine) -> Journey:
    journey = engine.publish(GOALS_AND_CONVERSION)
    for user in ("u1", "u2", "u3"):
        engine.track(user, "Added To Cart")
    engine.advance(minutes=40)
    engine.track("u1", "Opened App")
    engine.advance(hours=3)
    engine.track("u4", "Added To Cart")
    engine.advance(minutes=50)
    return journey


FRAMES = [
    Frame(),
    Frame(datetime(2026, 11, 28, 10, 0, tzinfo=UTC), datetime(2026, 11, 28, 11, 0, tzinfo=UTC)),
    Frame(datetime(2026, 11, 28, 10, 30, tzinfo=UTC), None),
    Frame(None, datetime(2026, 11, 28, 12, 10, tzinfo=UTC)),
    Frame(datetime(2026, 11, 28, 10, 5, tzinfo=UTC), datetime(2026, 11, 28, 10, 50, tzinfo=UTC)),
    Frame(datetime(2026, 11, 28, 9, 59, tzinfo=UTC), datetime(2026, 11, 28, 13, 1, tzinfo=UTC)),
]


@pytest.mark.parametrize("frame", FRAMES)
def test_the_rollup_counts_what_the_step_log_counts(journey: Journey, frame: Frame) -> None:
    assert sum(raw(journey, Frame()).values()) > 0
    assert rolled(journey, frame) == raw(journey, frame)


def test_reading_folds_fresh_rows_into_one_row_per_hour(journey: Journey) -> None:
    assert StepHour.objects.filter(journey_id=journey.pk, fresh=True).exists()
    before = StepHour.objects.filter(journey_id=journey.pk).aggregate(n=Sum("n"))["n"]
    assert before == Step.objects.filter(journey=journey).count()
    rolled(journey, Frame())
    assert not StepHour.objects.filter(journey_id=journey.pk, fresh=True).exists()
    settled = StepHour.objects.filter(journey_id=journey.pk)
    assert settled.aggregate(n=Sum("n"))["n"] == before
    keys = list(settled.values_list("node", "branch", "hour"))
    assert len(keys) == len(set(keys))


def test_deleted_steps_leave_the_rollup(journey: Journey) -> None:
    rolled(journey, Frame())  # settle first, then delete under it
    Enrollment.objects.filter(journey=journey, profile__external_id="u1").delete()
    assert rolled(journey, Frame()) == raw(journey, Frame())
    assert rolled(journey, Frame())[("opened", "yes")] == 0


def stays(journey: Journey, frame: Frame, *, rolled_up: bool) -> tuple[int, dict[str, Any]]:
    if rolled_up:
        return selectors.stay_counts(journey=journey, frame=frame)
    return selectors._raw_stay_counts(journey, frame)


@pytest.fixture
def ended(engine: Engine) -> Journey:
    """Stays that end by every reason the figures count: a goal, a time-out, and more."""
    journey = engine.publish(GOALS_AND_CONVERSION)
    for user in ("u1", "u2", "u3"):
        engine.track(user, "Added To Cart")
    engine.advance(minutes=40)
    engine.track("u1", "Charged")  # goal met at "opened"
    engine.advance(hours=3)
    engine.track("u4", "Added To Cart")
    engine.advance(days=1, minutes=10)  # u2, u3, u4 time out
    engine.track("u5", "Added To Cart")
    return journey


@pytest.mark.parametrize("frame", FRAMES)
def test_the_stay_rollup_counts_what_the_enrollments_count(ended: Journey, frame: Frame) -> None:
    assert stays(ended, Frame(), rolled_up=False)[0] == 5
    assert stays(ended, frame, rolled_up=True) == stays(ended, frame, rolled_up=False)


def test_deleted_stays_leave_the_stay_rollup(ended: Journey) -> None:
    stays(ended, Frame(), rolled_up=True)  # settle first
    Enrollment.objects.filter(journey=ended, profile__external_id__in=["u1", "u2"]).delete()
    assert stays(ended, Frame(), rolled_up=True) == stays(ended, Frame(), rolled_up=False)
    assert stays(ended, Frame(), rolled_up=True)[0] == 3
