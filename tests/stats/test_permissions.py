"""Who may read the stats: members (viewers too); others see nothing, anonymous callers get 401."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from builder.models import Journey
from tests.stats.conftest import Engine
from tests.stats.journeys import neither

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "/api/v1/journeys/{journey}/occupancy",
    "/api/v1/journeys/{journey}/stats",
    "/api/v1/journeys/{journey}/messages",
    "/api/v1/profiles/u1/timeline?project={project}",
]


@pytest.fixture
def journey(engine: Engine) -> Journey:
    journey = engine.publish(neither())
    engine.track("u1", "Added To Cart")
    return journey


def url(template: str, journey: Journey) -> str:
    return template.format(journey=journey.pk, project=journey.project_id)


@pytest.mark.parametrize("template", ENDPOINTS)
def test_a_viewer_can_read(template: str, journey: Journey, viewer_api: APIClient) -> None:
    assert viewer_api.get(url(template, journey)).status_code == 200


@pytest.mark.parametrize("template", ENDPOINTS)
def test_a_marketer_of_another_project_gets_404(
    template: str, journey: Journey, other_api: APIClient, other_project: Any
) -> None:
    response = other_api.get(url(template, journey))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("template", ENDPOINTS)
def test_an_anonymous_caller_gets_401(template: str, journey: Journey, anon_api: APIClient) -> None:
    assert anon_api.get(url(template, journey)).status_code == 401


@pytest.mark.parametrize("template", ENDPOINTS[:3])
def test_a_journey_that_does_not_exist_is_404(template: str, api: APIClient) -> None:
    assert api.get(template.format(journey=999999, project=0)).status_code == 404


def test_a_bearer_ingest_key_is_not_a_marketer(journey: Journey, ingest: APIClient) -> None:
    assert ingest.get(f"/api/v1/journeys/{journey.pk}/stats").status_code == 401
