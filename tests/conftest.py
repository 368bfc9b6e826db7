"""Named fixtures shared by the whole suite: marketers, projects, API clients."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.services import token_issue
from engine.models import Membership, Project
from tests.factories import MembershipFactory, ProjectFactory, UserFactory


@pytest.fixture
def marketer(db: Any) -> Any:
    return UserFactory(username="ana")


@pytest.fixture
def other_marketer(db: Any) -> Any:
    return UserFactory(username="bob")


@pytest.fixture
def project(marketer: Any) -> Project:
    project = ProjectFactory(name="Shop", timezone="UTC")
    MembershipFactory(project=project, user=marketer, role=Membership.Role.ADMIN)
    return project


@pytest.fixture
def other_project(other_marketer: Any) -> Project:
    project = ProjectFactory(name="Other shop")
    MembershipFactory(project=project, user=other_marketer, role=Membership.Role.ADMIN)
    return project


def client_for(user: Any) -> APIClient:
    client = APIClient()
    token, raw = token_issue(user=user)
    # Tests travel in time (some to 2030): their clients' tokens outlive every journey.
    # Expiry itself is tested in tests/accounts/test_tokens.py.
    type(token).objects.filter(pk=token.pk).update(expires_at=token.expires_at.replace(year=2100))
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


@pytest.fixture
def viewer(project: Project) -> Any:
    """A member of ``project`` who may read but not change anything."""
    user = UserFactory(username="vic")
    MembershipFactory(project=project, user=user, role=Membership.Role.VIEWER)
    return user


@pytest.fixture
def viewer_api(viewer: Any) -> APIClient:
    return client_for(viewer)


@pytest.fixture
def api(marketer: Any) -> APIClient:
    """The marketer's API client (token auth)."""
    return client_for(marketer)


@pytest.fixture
def other_api(other_marketer: Any) -> APIClient:
    return client_for(other_marketer)


@pytest.fixture
def ingest(project: Project) -> APIClient:
    """An API client holding the project's ingest key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {project.ingest_key}")
    return client
