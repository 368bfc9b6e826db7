"""The journey report page, its summary / series / stuck endpoints, and CSV exports."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from builder.models import Journey
from engine.models import Message
from tests.stats.conftest import Engine, with_email
from tests.stats.journeys import GOALS_AND_CONVERSION, neither

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.stats.urls")]


@pytest.fixture
def journey(engine: Engine) -> Journey:
    """28 Nov 10:00 ana, bo, cy enter; ana opens (yes -> mail), ana buys at 11:00 (goal);
    bo and cy get "no" at 12:10 and wait at "opened"; 29 Nov dee enters and opens."""
    journey = engine.publish(GOALS_AND_CONVERSION, name="Cart rescue")
    with_email(engine, "ana", "ana@example.com", first_name="Ana")
    for user in ("ana", "bo", "cy"):
        engine.track(user, "Added To Cart")
    engine.advance(minutes=10)
    engine.track("ana", "Opened App")
    engine.advance(minutes=50)
    engine.track("ana", "Charged")
    engine.advance(hours=2)
    engine.advance(days=1)  # 29 Nov 13:00: bo and cy time out (P1D)
    engine.track("dee", "Added To Cart")
    engine.advance(minutes=1)
    engine.track("dee", "Opened App")
    return journey


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode())))


def test_the_summary_endpoint_gives_the_canvas_header(api: APIClient, journey: Journey) -> None:
    body = api.get(f"/api/v1/journeys/{journey.pk}/summary").json()
    assert body == {
        "entry": 4, "goal_met": 1, "time_out": 2, "completed": None,
        "conversion_pct": 25.0, "conversion": "goal_met",
    }  # fmt: skip
    stats = api.get(f"/api/v1/journeys/{journey.pk}/stats").json()["summary"]
    assert {k: body[k] for k in stats} == stats


def test_the_summary_of_a_frame_cuts_through_stays(api: APIClient, journey: Journey) -> None:
    body = api.get(f"/api/v1/journeys/{journey.pk}/summary", {"to": "2026-11-28"}).json()
    assert (body["entry"], body["goal_met"], body["time_out"]) == (3, 1, 0)
    body = api.get(f"/api/v1/journeys/{journey.pk}/summary", {"from": "2026-11-29"}).json()
    assert (body["entry"], body["goal_met"], body["time_out"]) == (1, 0, 2)
    assert body["conversion_pct"] == 0.0


def test_the_series_counts_entries_and_conversions_per_day(
    api: APIClient, journey: Journey
) -> None:
    body = api.get(
        f"/api/v1/journeys/{journey.pk}/series", {"from": "2026-11-27", "to": "2026-11-29"}
    ).json()
    assert body["conversion"] == "goal_met"
    assert body["days"] == [
        {"day": "2026-11-27", "entries": 0, "conversions": 0},
        {"day": "2026-11-28", "entries": 3, "conversions": 1},
        {"day": "2026-11-29", "entries": 1, "conversions": 0},
    ]


def test_the_series_days_are_the_projects_days(
    engine: Engine, api: APIClient, journey: Journey
) -> None:
    # 10:00 UTC is 23:00 the day before... in Pacific/Kiritimati (UTC+14) it is the next day.
    engine.set_timezone("Pacific/Kiritimati")
    body = api.get(
        f"/api/v1/journeys/{journey.pk}/series",
        {"from": "2026-11-28T10:00:00Z", "to": "2026-11-30T10:00:00Z"},
    ).json()
    by_day = {d["day"]: d["entries"] for d in body["days"]}
    assert by_day["2026-11-29"] == 3
    assert by_day["2026-11-30"] == 1


def test_the_series_completed_counts_when_no_goal(engine: Engine, api: APIClient) -> None:
    journey = engine.publish(neither())
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=1)
    engine.track("u1", "Opened App")  # yes -> mail -> the path ends: completed
    engine.advance(minutes=1)
    body = api.get(f"/api/v1/journeys/{journey.pk}/series", {"from": "2026-11-28"}).json()
    assert body["conversion"] == "completed"
    assert body["days"][0] == {"day": "2026-11-28", "entries": 1, "conversions": 1}


def test_bad_frames_are_400_on_the_new_endpoints(api: APIClient, journey: Journey) -> None:
    for name in ("summary", "series"):
        response = api.get(f"/api/v1/journeys/{journey.pk}/{name}", {"from": "yesterday"})
        assert response.status_code == 400
        assert "from" in response.json()


def test_others_get_404_from_the_new_endpoints(other_api: APIClient, journey: Journey) -> None:
    for name in ("summary", "series", "stuck"):
        assert other_api.get(f"/api/v1/journeys/{journey.pk}/{name}").status_code == 404


# -- stuck users ----------------------------------------------------------------------------


def test_users_waiting_within_what_the_block_takes_are_not_stuck(
    engine: Engine, api: APIClient
) -> None:
    journey = engine.publish(GOALS_AND_CONVERSION)
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=1)
    body = api.get(f"/api/v1/journeys/{journey.pk}/stuck").json()
    opened = body["nodes"]["opened"]
    assert opened["waiting"] == 1
    assert opened["expected_seconds"] == 7200  # "within": PT2H
    assert opened["stuck"] == 0
    assert body["total_stuck"] == 0


def test_users_waiting_past_what_the_block_takes_are_stuck(engine: Engine, api: APIClient) -> None:
    journey = engine.publish(GOALS_AND_CONVERSION)
    engine.track("u1", "Added To Cart")
    engine.track("u2", "Added To Cart")
    engine.advance(minutes=1)
    # The engine stops (nothing is run): 3 hours later both wait past the 2 hours.
    engine.clock.shift(timedelta(hours=3))
    body = api.get(f"/api/v1/journeys/{journey.pk}/stuck", {"node": "opened"}).json()
    opened = body["nodes"]["opened"]
    assert (opened["waiting"], opened["stuck"]) == (2, 2)
    assert opened["longest_wait_seconds"] == 3 * 3600 + 60  # in "opened" since 10:00
    assert body["total_stuck"] == 2
    assert [p["profile_id"] for p in body["profiles"]] == ["u1", "u2"]
    assert body["profiles"][0]["waited_seconds"] == 3 * 3600 + 60


def test_users_parked_at_a_path_end_are_stuck_past_the_conversion_time(
    engine: Engine, api: APIClient
) -> None:
    journey = engine.publish(GOALS_AND_CONVERSION)
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=1)
    engine.track("u1", "Opened App")  # yes -> mail, parked there until a goal or P1D
    engine.advance(minutes=1)
    body = api.get(f"/api/v1/journeys/{journey.pk}/stuck").json()
    assert body["nodes"]["mail"]["parked"] == 1
    assert body["nodes"]["mail"]["stuck"] == 0
    engine.clock.shift(timedelta(days=2))
    body = api.get(f"/api/v1/journeys/{journey.pk}/stuck").json()
    assert body["nodes"]["mail"]["stuck"] == 1


def test_a_too_long_node_is_a_400(api: APIClient, journey: Journey) -> None:
    response = api.get(f"/api/v1/journeys/{journey.pk}/stuck", {"node": "x" * 65})
    assert response.status_code == 400
    assert "node" in response.json()


# -- the report page ------------------------------------------------------------------------


def test_the_report_page_shows_summary_chart_blocks_and_links(
    journey: Journey, marketer: Any
) -> None:
    response = browser(marketer).get(f"/journeys/{journey.pk}/report")
    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["summary"]["entry"] == 4
    assert "vendor/chart.umd.min.js" in html
    assert "js/report.js" in html
    assert "<script>" not in html  # no inline script (CSP)
    assert f"/journeys/{journey.pk}/blocks/opened/segment" in html
    assert f"/journeys/{journey.pk}/blocks/mail/campaign" in html
    by_node = {r["node"]: r for r in response.context["rows"]}
    assert (by_node["opened"]["yes"], by_node["opened"]["no"]) == (2, 2)
    assert by_node["opened"]["time_out"] == 2


def test_the_report_csv_has_what_the_page_shows(journey: Journey, marketer: Any) -> None:
    response = browser(marketer).get(
        f"/journeys/{journey.pk}/report",
        {"from": "2026-11-28", "to": "2026-11-29", "format": "csv"},
    )
    assert response["Content-Type"].startswith("text/csv")
    table = rows(response.content)
    assert table[0] == ["Summary"]
    assert table[2] == ["4", "1", "2", "", "25.0"]
    assert ["2026-11-28", "3", "1"] in table
    opened = next(r for r in table if r and r[0] == "opened")
    assert opened[3:6] == ["4", "0", "2"]  # entered, here now, yes


def test_a_viewer_opens_the_report(journey: Journey, viewer: Any) -> None:
    assert browser(viewer).get(f"/journeys/{journey.pk}/report").status_code == 200


def test_others_get_404_for_the_report(journey: Journey, other_marketer: Any) -> None:
    assert browser(other_marketer).get(f"/journeys/{journey.pk}/report").status_code == 404


def test_the_journey_list_links_to_the_report(journey: Journey, marketer: Any) -> None:
    html = browser(marketer).get("/journeys/").content.decode()
    assert f'href="/journeys/{journey.pk}/report"' in html


def test_the_report_lists_stuck_users_with_links(engine: Engine, marketer: Any) -> None:
    journey = engine.publish(GOALS_AND_CONVERSION)
    engine.track("u1", "Added To Cart")
    engine.advance(minutes=1)
    engine.clock.shift(timedelta(hours=3))
    html = browser(marketer).get(f"/journeys/{journey.pk}/report").content.decode()
    assert "1 stuck" in html
    assert "more than 5 minutes longer than the block should take" in html
    assert "3 hours 1 minute" in html  # the longest wait, in words
    assert 'href="/profiles/u1/"' in html


# -- segment and campaign details -----------------------------------------------------------


def test_the_segment_page_says_the_condition_in_words_with_branches_and_links(
    journey: Journey, marketer: Any
) -> None:
    response = browser(marketer).get(f"/journeys/{journey.pk}/blocks/opened/segment")
    report = response.context["report"]
    assert report["condition"] == "Did “Opened App” within 2 hours."
    assert report["branches"] == {"yes": 2, "no": 2}
    html = response.content.decode()
    assert "Did “Opened App” within 2 hours." in html
    assert 'href="/profiles/dee/"' in html
    assert "Last 30 days" not in html
    assert ">Today<" in html


def test_the_segment_csv_has_days_branches_and_profiles(journey: Journey, marketer: Any) -> None:
    response = browser(marketer).get(
        f"/journeys/{journey.pk}/blocks/opened/segment",
        {"from": "2026-11-28", "to": "2026-11-29", "format": "csv"},
    )
    table = rows(response.content)
    assert ["2026-11-28", "3", "1", "2"] in table
    assert ["2026-11-29", "1", "1", "0"] in table
    assert ["yes", "2"] in table
    assert ["no", "2"] in table
    assert any(r and r[0] == "dee" for r in table)


def test_the_campaign_page_lists_failures_with_their_reasons(
    journey: Journey, marketer: Any
) -> None:
    Message.objects.filter(journey=journey, node="mail", profile__external_id="ana").update(
        status=Message.Status.FAILED, error="550 mailbox unavailable", attempts=3
    )
    response = browser(marketer).get(f"/journeys/{journey.pk}/blocks/mail/campaign")
    report = response.context["report"]
    assert report["totals"]["failed"] == 1
    assert report["failures"]["reasons"] == [{"error": "550 mailbox unavailable", "count": 1}]
    assert report["failures"]["latest"][0]["profile_id"] == "ana"
    assert [r["profile_id"] for r in report["recipients"]] == ["dee", "ana"]
    html = response.content.decode()
    assert "550 mailbox unavailable" in html
    assert 'href="/profiles/ana/"' in html
    table = rows(
        browser(marketer)
        .get(f"/journeys/{journey.pk}/blocks/mail/campaign", {"format": "csv"})
        .content
    )
    assert ["550 mailbox unavailable", "1"] in table


def test_condition_words_for_past_behaviour_and_inaction() -> None:
    from stats.selectors import condition_words

    assert (
        condition_words(
            {
                "type": "past_behaviour",
                "window_days": 1,
                "match": "all",
                "conditions": [{"kind": "did", "event": "Charged", "count": 1}],
            }
        )
        == "In the last 1 day: did “Charged” at least 1 time."
    )
    assert (
        condition_words({"type": "inaction", "not_event": "Charged", "within": "P1D"})
        == "Did NOT do “Charged” within 1 day."
    )
