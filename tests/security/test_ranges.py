"""Ids, time frames and time zones out of range get a 400 or a 404, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from builder import services
from builder.models import Journey
from engine.models import Project
from tests.engine.domain.examples import contract_example

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999999"


@pytest.fixture
def journey(marketer: Any, project: Project) -> Journey:
    journey = services.journey_create(
        project=project, user=marketer, name="Cart", definition=contract_example()
    )
    return services.journey_publish(journey=journey, user=marketer)


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/journeys/{HUGE}",
        f"/api/v1/journeys/{HUGE}/stats",
        f"/api/v1/journeys/{HUGE}/occupancy",
        f"/api/v1/journeys/{HUGE}/messages",
        f"/api/v1/journeys/{HUGE}/versions",
        f"/api/v1/journeys/{HUGE}/export",
        f"/api/v1/projects/{HUGE}",
        f"/api/v1/projects/{HUGE}/members",
        f"/api/v1/profiles/u-1/timeline?project={HUGE}",
        f"/api/v1/journeys?project={HUGE}",
    ],
)
def test_ids_out_of_range_are_404_or_400(api: APIClient, url: str) -> None:
    response = api.get(url)
    assert response.status_code in (400, 404), response.content[:200]
    assert response["Content-Type"].startswith("application/json")


def test_a_version_number_out_of_range_is_404(api: APIClient, journey: Journey) -> None:
    assert api.get(f"/api/v1/journeys/{journey.pk}/versions/{HUGE}").status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"from": "0001-01-01T00:00:00+05:00"},
        {"to": "9999-12-31"},
        {"to": "9999-12-31T23:59:59-05:00"},
        {"from": "2026-13-45"},
        {"from": "2026-01-01T10:00:00+25:00"},
    ],
)
def test_time_frames_out_of_range_are_400_with_the_parameter(
    api: APIClient, journey: Journey, params: dict[str, str]
) -> None:
    response = api.get(f"/api/v1/journeys/{journey.pk}/stats", params)
    assert response.status_code == 400
    assert set(response.json()) == set(params)


@pytest.mark.parametrize(
    "params", [{"from": "0001-01-01T00:00:00+05:00"}, {"to": "9999-12-31"}, {"from": "x"}]
)
def test_report_pages_with_frames_out_of_range_show_the_error(
    marketer: Any, journey: Journey, params: dict[str, str]
) -> None:
    client = Client()
    client.force_login(marketer)
    response = client.get(f"/journeys/{journey.pk}/blocks/paid/segment", params)
    assert response.status_code == 200
    assert response.context["frame_error"]


def test_a_page_for_an_id_out_of_range_is_404(marketer: Any) -> None:
    client = Client()
    client.force_login(marketer)
    assert client.get(f"/journeys/{HUGE}/blocks/paid/segment").status_code == 404


def test_a_project_with_an_unknown_time_zone_still_shows_its_pages(
    marketer: Any, journey: Journey, project: Project
) -> None:
    Project.objects.filter(pk=project.pk).update(timezone="Mars/Olympus")
    client = Client()
    client.force_login(marketer)
    response = client.get(f"/journeys/{journey.pk}/blocks/paid/segment")
    assert response.status_code == 200


def test_creating_a_project_with_an_unknown_time_zone_is_400(api: APIClient) -> None:
    response = api.post(
        "/api/v1/projects", {"name": "X", "timezone": "Mars/Olympus"}, format="json"
    )
    assert response.status_code == 400
    assert "timezone" in response.json()
