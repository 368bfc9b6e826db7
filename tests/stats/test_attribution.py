"""The stats endpoint against real engine data, for each row of PRODUCT §5's attribution table."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from builder.models import Journey
from tests.stats.conftest import Engine
from tests.stats.journeys import CONVERSION_ONLY, GOALS_AND_CONVERSION, goals_only, neither

pytestmark = pytest.mark.django_db


def stats(api: APIClient, journey: Journey, **frame: str) -> dict[str, Any]:
    query = {k.rstrip("_"): v for k, v in frame.items()}
    response = api.get(f"/api/v1/journeys/{journey.pk}/stats", query)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def node(entered: int, current: int, goal_met: Any, time_out: Any, completed: Any,
         yes: Any = None, no: Any = None) -> dict[str, Any]:  # fmt: skip
    return {
        "entered": entered,
        "current": current,
        "goal_met": goal_met,
        "time_out": time_out,
        "completed": completed,
        "yes": yes,
        "no": no,
    }


def drive_goal_journey(engine: Engine, definition: dict[str, Any]) -> Journey:
    """10:00 u1, u2, u3 enter; 10:10 u1 buys (goal at "opened"); 10:20 u2 opens (yes -> mail,
    parked there); 12:20 u3 has not opened (no, parked at "opened")."""
    journey = engine.publish(definition)
    for user in ("u1", "u2", "u3"):
        engine.track(user, "Added To Cart")
    engine.advance(minutes=10)
    engine.track("u1", "Charged")
    engine.advance(minutes=10)
    engine.track("u2", "Opened App")
    engine.advance(hours=2)
    return journey


class TestGoalAndConversionTime:
    @pytest.fixture
    def journey(self, engine: Engine) -> Journey:
        journey = drive_goal_journey(engine, GOALS_AND_CONVERSION)
        # Next day 12:20: u2 (at mail) and u3 (at opened) run out of time; u4 enters.
        engine.advance(days=1)
        engine.track("u4", "Added To Cart")
        return journey

    def test_all_time_figures(self, api: APIClient, journey: Journey) -> None:
        body = stats(api, journey)
        assert body["summary"] == {
            "entry": 4,
            "goal_met": 1,
            "time_out": 2,
            "completed": None,
            "conversion_pct": 25.0,
        }
        assert body["nodes"] == {
            "entry": node(4, 0, 0, 0, None, yes=4, no=0),
            "push1": node(4, 0, 0, 0, None),
            "opened": node(4, 1, 1, 1, None, yes=1, no=1),
            "mail": node(1, 0, 0, 1, None),
        }

    def test_a_frame_of_the_first_day_leaves_out_the_time_outs_and_u4(
        self, api: APIClient, journey: Journey
    ) -> None:
        body = stats(api, journey, from_="2026-11-28T00:00:00Z", to="2026-11-29T00:00:00Z")
        assert body["summary"] == {
            "entry": 3,
            "goal_met": 1,
            "time_out": 0,
            "completed": None,
            "conversion_pct": 33.33,
        }
        assert body["nodes"]["opened"] == node(3, 1, 1, 0, None, yes=1, no=1)
        assert body["nodes"]["mail"] == node(1, 0, 0, 0, None)

    def test_a_frame_of_the_second_day_has_only_u4_and_the_time_outs(
        self, api: APIClient, journey: Journey
    ) -> None:
        body = stats(api, journey, from_="2026-11-29")
        assert body["summary"] == {
            "entry": 1,
            "goal_met": 0,
            "time_out": 2,
            "completed": None,
            "conversion_pct": 0.0,
        }
        # u4 is waiting at "opened" (no step yet) and counts as entered there.
        assert body["nodes"]["entry"] == node(1, 0, 0, 0, None, yes=1, no=0)
        assert body["nodes"]["push1"] == node(1, 0, 0, 0, None)
        assert body["nodes"]["opened"] == node(1, 1, 0, 1, None, yes=0, no=0)
        assert body["nodes"]["mail"] == node(0, 0, 0, 1, None)

    def test_occupancy_lists_every_block(self, api: APIClient, journey: Journey) -> None:
        response = api.get(f"/api/v1/journeys/{journey.pk}/occupancy")
        assert response.status_code == 200
        assert response.json() == {
            "nodes": {"entry": 0, "push1": 0, "opened": 1, "mail": 0},
            "total": 1,
        }


class TestGoalWithoutConversionTime:
    @pytest.fixture
    def journey(self, engine: Engine) -> Journey:
        journey = drive_goal_journey(engine, goals_only())
        engine.advance(days=3)  # nobody ever times out
        return journey

    def test_all_time_figures(self, api: APIClient, journey: Journey) -> None:
        body = stats(api, journey)
        assert body["summary"] == {
            "entry": 3,
            "goal_met": 1,
            "time_out": None,
            "completed": None,
            "conversion_pct": 33.33,
        }
        # u2 and u3 stay parked at the end of their paths, still in the journey.
        assert body["nodes"] == {
            "entry": node(3, 0, 0, None, None, yes=3, no=0),
            "push1": node(3, 0, 0, None, None),
            "opened": node(3, 1, 1, None, None, yes=1, no=1),
            "mail": node(1, 1, 0, None, None),
        }

    def test_frames_split_entries_from_the_goal(self, api: APIClient, journey: Journey) -> None:
        before = stats(api, journey, to="2026-11-28T10:05:00Z")["summary"]
        assert before == {
            "entry": 3,
            "goal_met": 0,
            "time_out": None,
            "completed": None,
            "conversion_pct": 0.0,
        }
        after = stats(api, journey, from_="2026-11-28T10:05:00+00:00")
        assert after["summary"]["entry"] == 0
        assert after["summary"]["goal_met"] == 1
        assert after["summary"]["conversion_pct"] == 0.0
        assert after["nodes"]["opened"]["goal_met"] == 1
        # Still at their blocks now, whatever the frame.
        assert after["nodes"]["mail"]["current"] == 1

    def test_occupancy_counts_users_parked_at_path_ends(
        self, api: APIClient, journey: Journey
    ) -> None:
        body = api.get(f"/api/v1/journeys/{journey.pk}/occupancy").json()
        assert body == {"nodes": {"entry": 0, "push1": 0, "opened": 1, "mail": 1}, "total": 2}


class TestConversionTimeWithoutGoal:
    @pytest.fixture
    def journey(self, engine: Engine) -> Journey:
        journey = engine.publish(CONVERSION_ONLY)
        engine.track("u1", "Added To Cart")
        engine.track("u2", "Added To Cart")
        engine.advance(minutes=10)
        engine.track("u1", "Opened App")  # 10:10 yes -> mail -> completed
        engine.advance(minutes=25)  # 10:35 u2: no -> wait
        engine.advance(minutes=30)  # 11:05 u2 times out at wait
        engine.advance(minutes=55)  # 12:00 u3 enters and waits at "opened"
        engine.track("u3", "Added To Cart")
        return journey

    def test_all_time_figures(self, api: APIClient, journey: Journey) -> None:
        body = stats(api, journey)
        assert body["summary"] == {
            "entry": 3,
            "goal_met": None,
            "time_out": 1,
            "completed": 1,
            "conversion_pct": 33.33,
        }
        assert body["nodes"] == {
            "entry": node(3, 0, None, 0, 0, yes=3, no=0),
            "opened": node(3, 1, None, 0, 0, yes=1, no=1),
            "mail": node(1, 0, None, 0, 1),
            "wait": node(1, 0, None, 1, 0),
        }

    def test_a_frame_around_the_time_out(self, api: APIClient, journey: Journey) -> None:
        body = stats(api, journey, from_="2026-11-28T10:30:00Z", to="2026-11-28T11:30:00Z")
        assert body["summary"] == {
            "entry": 0,
            "goal_met": None,
            "time_out": 1,
            "completed": 0,
            "conversion_pct": 0.0,
        }
        assert body["nodes"]["wait"] == node(1, 0, None, 1, 0)
        assert body["nodes"]["opened"] == node(0, 1, None, 0, 0, yes=0, no=0)


class TestNeitherGoalNorConversionTime:
    @pytest.fixture
    def journey(self, engine: Engine) -> Journey:
        journey = engine.publish(neither())
        engine.track("u1", "Added To Cart")
        engine.track("u2", "Added To Cart")
        engine.advance(minutes=10)
        engine.track("u1", "Opened App")  # 10:10 completed at mail
        engine.advance(minutes=25)  # 10:35 u2: no, path ends -> completed at "opened"
        engine.advance(hours=1)
        engine.track("u3", "Added To Cart")  # 11:35, waiting at "opened"
        return journey

    def test_all_time_figures(self, api: APIClient, journey: Journey) -> None:
        body = stats(api, journey)
        assert body["summary"] == {
            "entry": 3,
            "goal_met": None,
            "time_out": None,
            "completed": 2,
            "conversion_pct": 66.67,
        }
        assert body["nodes"] == {
            "entry": node(3, 0, None, None, 0, yes=3, no=0),
            "opened": node(3, 1, None, None, 1, yes=1, no=1),
            "mail": node(1, 0, None, None, 1),
        }

    def test_a_frame_before_u2_finished(self, api: APIClient, journey: Journey) -> None:
        body = stats(api, journey, to="2026-11-28T10:20:00Z")
        assert body["summary"] == {
            "entry": 2,
            "goal_met": None,
            "time_out": None,
            "completed": 1,
            "conversion_pct": 50.0,
        }
        assert body["nodes"]["mail"]["completed"] == 1
        assert body["nodes"]["opened"]["completed"] == 0


def test_an_empty_journey_has_zero_everywhere(engine: Engine, api: APIClient) -> None:
    journey = engine.publish(neither())
    body = stats(api, journey)
    assert body["summary"] == {
        "entry": 0,
        "goal_met": None,
        "time_out": None,
        "completed": 0,
        "conversion_pct": 0.0,
    }
    assert set(body["nodes"]) == {"entry", "opened", "mail"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-40T00:00:00Z"}, "to"),
        ({"from": "2026-11-29T00:00:00Z", "to": "2026-11-28T00:00:00Z"}, "to"),
    ],
)
def test_bad_dates_are_a_400_naming_the_field(
    engine: Engine, api: APIClient, query: dict[str, str], field: str
) -> None:
    journey = engine.publish(neither())
    response = api.get(f"/api/v1/journeys/{journey.pk}/stats", query)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_an_unencoded_plus_offset_is_understood(engine: Engine, api: APIClient) -> None:
    journey = engine.publish(neither())
    engine.track("u1", "Added To Cart")
    response = api.get(f"/api/v1/journeys/{journey.pk}/stats?from=2026-11-28T11:00:00+01:00")
    assert response.status_code == 200
    assert response.json()["summary"]["entry"] == 1


def test_stats_and_occupancy_take_a_fixed_number_of_queries(
    engine: Engine, api: APIClient, django_assert_max_num_queries: Any
) -> None:
    journey = drive_goal_journey(engine, GOALS_AND_CONVERSION)
    # On PostgreSQL some of them fold and read the hourly rollups (stats/models.py).
    with django_assert_max_num_queries(16):
        assert api.get(f"/api/v1/journeys/{journey.pk}/stats").status_code == 200
    with django_assert_max_num_queries(3):
        assert api.get(f"/api/v1/journeys/{journey.pk}/occupancy").status_code == 200
