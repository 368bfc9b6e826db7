"""Ids out of range and odd tokens on the accounts endpoints get 400 or 404, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from engine.models import Project

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999999"


def test_ids_out_of_range_are_not_found(api: APIClient, project: Project) -> None:
    assert api.delete(f"/api/v1/auth/tokens/{HUGE}").status_code == 404
    assert api.get(f"/api/v1/projects/{HUGE}/invitations").status_code == 404
    assert api.delete(f"/api/v1/projects/{project.pk}/invitations/{HUGE}").status_code == 404
    assert api.delete(f"/api/v1/projects/{HUGE}/members/bob").status_code == 404


@pytest.mark.parametrize("token", ["x" * 5000, "%00", "%F0%9F%98%80", "..", "%ED%A0%80"])
def test_odd_invitation_tokens_are_not_found(api: APIClient, marketer: Any, token: str) -> None:
    assert api.get(f"/api/v1/invitations/{token}").status_code == 404
    assert api.post(f"/api/v1/invitations/{token}/accept").status_code == 404
    web = Client()
    web.force_login(marketer)
    assert web.get(f"/invitations/{token}/").status_code == 404


def test_the_member_forms_with_bad_ids_are_not_found(marketer: Any, project: Project) -> None:
    web = Client()
    web.force_login(marketer)
    for path, data in [
        (f"/settings/members/{HUGE}/remove", {"project": project.pk}),
        (f"/settings/members/{HUGE}/role", {"project": project.pk, "role": "viewer"}),
        (f"/settings/invitations/{HUGE}/revoke", {"project": project.pk}),
        ("/settings/members/invite", {"project": HUGE, "username": "bob"}),
        ("/settings/members/invite", {"project": "abc", "username": "bob"}),
    ]:
        assert web.post(path, data).status_code == 404, path


def test_an_invitation_with_a_bad_username_or_role_is_400_with_the_field(
    api: APIClient, project: Project
) -> None:
    url = f"/api/v1/projects/{project.pk}/members"
    response = api.post(url, {"username": "x" * 151, "role": "viewer"}, format="json")
    assert response.status_code == 400
    assert "username" in response.json()
    response = api.post(url, {"username": "  ", "role": "viewer"}, format="json")
    assert response.status_code == 400
    assert "username" in response.json()
