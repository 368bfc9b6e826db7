"""Fixtures for accounts tests: a staff user for the admin login."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import UserFactory


@pytest.fixture
def staff(db: Any) -> Any:
    return UserFactory(username="root", is_staff=True, is_superuser=True)
