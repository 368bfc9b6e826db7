"""The message limits page (/settings/limits): admins set caps and quiet hours, members read."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from engine import limits
from engine.models import Membership, Project
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_settings_page_links_to_the_limits_page(marketer: Any, project: Project) -> None:
    page = _client(marketer).get("/settings/").content.decode()
    assert 'href="/settings/limits"' in page


def test_an_admin_saves_caps_and_quiet_hours(marketer: Any, project: Project) -> None:
    client = _client(marketer)
    response = client.post(
        "/settings/limits",
        {"email_day": "3", "email_week": "10", "sms_day": "1", "quiet_start": "21:00",
         "quiet_end": "08:00"},
    )  # fmt: skip
    assert response.status_code == 302
    assert limits.limits_get(project).as_dict() == {
        "frequency_caps": {"email": {"day": 3, "week": 10}, "sms": {"day": 1}},
        "quiet_hours": {"start": "21:00", "end": "08:00"},
    }
    page = client.get("/settings/limits").content.decode()
    assert "Message limits saved." in page
    assert 'id="email_week" name="email_week" min="1" max="1000"' in page
    assert 'value="10"' in page
    assert 'value="21:00"' in page
    # Emptying every field removes the limits.
    client.post("/settings/limits", {})
    assert limits.limits_get(project).empty


def test_bad_values_are_refused_with_each_field_named(marketer: Any, project: Project) -> None:
    response = _client(marketer).post(
        "/settings/limits", {"sms_day": "0", "push_week": "lots", "quiet_start": "21:00"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'role="alert"' in page
    assert "Fix 3 fields" in page
    assert '<a href="#sms_day">SMS per day</a>: must be a whole number from 1 to 1000' in page
    assert '<a href="#push_week">Mobile push per week</a>: must be a whole number' in page
    assert '<a href="#quiet_end">Quiet hours end</a>: is required' in page
    assert 'id="sms_day" name="sms_day"' in page
    assert 'aria-invalid="true" aria-describedby="sms_day-error"' in page
    assert 'value="lots"' in page  # what was typed stays, to be fixed
    assert limits.limits_get(project).empty


def test_members_read_the_limits_and_only_admins_change_them(project: Project) -> None:
    limits.limits_set(project=project, frequency_caps={"email": {"day": 2}})
    viewer = UserFactory(username="vic")
    MembershipFactory(project=project, user=viewer, role=Membership.Role.EDITOR)
    client = _client(viewer)
    page = client.get("/settings/limits").content.decode()
    assert "only a project admin can change them" in page
    assert "<fieldset disabled" in page
    assert "Save limits" not in page
    assert client.post("/settings/limits", {"email_day": "9"}).status_code == 403
    assert limits.limits_get(project).caps == {"email": {"day": 2}}
