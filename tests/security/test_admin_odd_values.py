"""Admin pages show values stored before the bounds (deep, NaN, odd text) instead of failing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from builder.models import Journey
from engine.models import Project
from tests.engine.domain.examples import contract_example
from tests.factories import EventFactory, ProfileFactory, UserFactory

pytestmark = pytest.mark.django_db


def nested(depth: int) -> Any:
    value: Any = {"x": 1}
    for _ in range(depth):
        value = {"child": value}
    return value


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(UserFactory(username="support", is_staff=True, is_superuser=True))
    return client


def test_a_journey_with_a_500_deep_layout_opens_in_the_admin(
    staff: Client, project: Project
) -> None:
    definition = contract_example()
    definition["layout"] = {"entry": nested(500)}
    journey = Journey.objects.create(
        project=project, name="Deep", definition=definition, definition_text=json.dumps(definition)
    )
    assert staff.get("/admin/builder/journey/").status_code == 200
    response = staff.get(f"/admin/builder/journey/{journey.pk}/change/")
    assert response.status_code == 200
    assert "child" in response.content.decode()


def test_a_profile_with_odd_stored_values_opens_in_the_admin(
    staff: Client, project: Project
) -> None:
    profile = ProfileFactory(
        project=project,
        external_id="odd",
        timezone="Mars/Olympus",
        properties={"deep": nested(200), "big": 10**30},
        push_tokens=[{"token": "t" * 5000, "platform": "ios"}],
    )
    properties: dict[str, Any] = {"deep": nested(200), "big": 10**30}
    if connection.vendor == "sqlite":  # PostgreSQL never stored these; SQLite did
        properties.update(lone="\ud800", nul="a\u0000")
    event = EventFactory(profile=profile, name="Odd", properties=properties)
    assert staff.get("/admin/engine/profile/").status_code == 200
    assert staff.get(f"/admin/engine/profile/{profile.pk}/change/").status_code == 200
    assert staff.get("/admin/engine/event/").status_code == 200
    assert staff.get(f"/admin/engine/event/{event.pk}/change/").status_code == 200
