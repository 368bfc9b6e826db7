"""The stats endpoints are described in the OpenAPI schema with their response shapes."""

from __future__ import annotations

import pytest
import yaml
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_schema_describes_the_stats_endpoints() -> None:
    schema = yaml.safe_load(Client().get("/api/schema/").content)
    paths = schema["paths"]
    operations = {
        "/api/v1/journeys/{journey_id}/occupancy": "journeys_occupancy",
        "/api/v1/journeys/{journey_id}/stats": "journeys_stats",
        "/api/v1/journeys/{journey_id}/messages": "journeys_messages",
        "/api/v1/profiles/{profile_id}/timeline": "profiles_timeline",
    }
    for path, operation_id in operations.items():
        assert paths[path]["get"]["operationId"] == operation_id
    components = schema["components"]["schemas"]
    assert set(components["StatsSummary"]["properties"]) == {
        "entry",
        "goal_met",
        "time_out",
        "completed",
        "conversion_pct",
    }
    assert set(components["StatsNode"]["properties"]) == {
        "entered",
        "current",
        "goal_met",
        "time_out",
        "completed",
        "yes",
        "no",
    }
    stats_params = {
        p["name"] for p in paths["/api/v1/journeys/{journey_id}/stats"]["get"]["parameters"]
    }
    assert {"from", "to"} <= stats_params
