"""Fixtures for the builder's tests: journeys in various states, a viewer, enrollments at blocks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from builder import services
from builder.models import Journey
from engine.models import Enrollment, Membership, Project
from tests.conftest import client_for
from tests.engine.domain.examples import contract_example
from tests.factories import MembershipFactory, ProfileFactory, UserFactory


@pytest.fixture
def editor_api(project: Project) -> APIClient:
    user = UserFactory(username="eve")
    MembershipFactory(project=project, user=user, role=Membership.Role.EDITOR)
    return client_for(user)


@pytest.fixture
def make_journey(marketer: Any, project: Project) -> Callable[..., Journey]:
    """make_journey(status="live", definition=..., project=...) through the services."""

    def make(
        status: str = "draft",
        definition: dict[str, Any] | None = None,
        name: str = "Cart abandonment",
        in_project: Project | None = None,
    ) -> Journey:
        journey = services.journey_create(
            project=in_project or project,
            user=marketer,
            name=name,
            definition=definition if definition is not None else contract_example(),
        )
        if status in ("live", "paused", "stopped"):
            journey = services.journey_publish(journey=journey, user=marketer)
        if status == "paused":
            journey = services.journey_pause(journey=journey, user=marketer)
        if status == "stopped":
            journey = services.journey_stop(journey=journey, user=marketer)
        if status == "scheduled":
            raise ValueError("schedule with a future settings.start_at instead")
        return Journey.objects.select_related("live_version").get(pk=journey.pk)

    return make


@pytest.fixture
def enroll(project: Project) -> Callable[..., Enrollment]:
    """enroll(journey, node, state="active", version=None, **fields): an Enrollment row at a
    block, written directly with the ORM."""

    def make(journey: Journey, node: str, state: str = "active", **fields: Any) -> Enrollment:
        version = fields.pop("version", None) or journey.live_version
        return Enrollment.objects.create(
            project=journey.project,
            journey=journey,
            version=version,
            profile=fields.pop("profile", None) or ProfileFactory(project=journey.project),
            node=node,
            state=state,
            **fields,
        )

    return make
