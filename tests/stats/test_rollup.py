"""The hourly step rollup (PostgreSQL triggers) always sums to the step log's own counts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

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
