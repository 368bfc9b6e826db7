"""Support staff see, on a profile's admin page, which journeys it is in and why."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from engine.models import Enrollment, Profile
from tests.engine.flows.test_cart_abandonment import CART
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(UserFactory(username="support", is_staff=True, is_superuser=True))
    return client


def test_the_profile_page_lists_its_journeys_with_the_path_and_why(
    engine: Any, staff: Client
) -> None:
    journey = engine.publish(CART, name="Cart rescue")
    engine.track("u-1", "Added To Cart", price=120)
    engine.advance(minutes=21)
    profile = Profile.objects.get(external_id="u-1")
    page = staff.get(f"/admin/engine/profile/{profile.pk}/change/").content.decode()
    assert "Cart rescue (v1)" in page
    assert "completed at mail" in page
    # The path taken at the segment block and what it saw, in the profile page's words.
    assert "paid: Did not match, so took the no path. Checked in the last 1 day" in page
    enrollment = Enrollment.objects.get(journey=journey)
    assert staff.get(f"/admin/engine/enrollment/{enrollment.pk}/change/").status_code == 200
    assert staff.get(f"/admin/builder/journey/{journey.pk}/change/").status_code == 200
    assert staff.get("/admin/engine/enrollment/?q=u-1").status_code == 200
