"""Fixtures for the stats tests: the engine harness of the flow tests, and viewers."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.engine.flows.conftest import Engine, _fresh_engine_caches, engine

__all__ = ["Engine", "_fresh_engine_caches", "engine"]


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()


def with_email(engine: Engine, profile_id: str, email: str, **properties: Any) -> None:
    """Create or update a profile with an email address, through ingest's own parser."""
    from engine import services
    from engine.ingest import parse_profiles

    records = parse_profiles(
        {"profiles": [{"id": profile_id, "email": email, "properties": properties}]},
        max_items=10,
    )
    engine._committed(services.profiles_upsert, project=engine.project, records=records)
