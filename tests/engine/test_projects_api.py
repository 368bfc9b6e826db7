"""Marketer API for projects and their members."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from engine.models import Membership, Project
from tests.conftest import client_for
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_creating_a_project_returns_it_with_an_ingest_key_and_makes_the_creator_admin(
    api: APIClient, marketer: Any
) -> None:
    response = api.post(
        "/api/v1/projects", {"name": "Shoes", "timezone": "Asia/Kolkata"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Shoes"
    assert body["timezone"] == "Asia/Kolkata"
    assert body["ingest_key"].startswith("pk_")
    assert body["role"] == "admin"
    project = Project.objects.get(pk=body["id"])
    assert project.ingest_key == body["ingest_key"]
    membership = Membership.objects.get(project=project)
    assert membership.user == marketer
    assert membership.role == Membership.Role.ADMIN


def test_the_project_timezone_defaults_to_utc(api: APIClient) -> None:
    response = api.post("/api/v1/projects", {"name": "Shoes"}, format="json")
    assert response.status_code == 201
    assert response.json()["timezone"] == "UTC"


def test_a_project_with_an_unknown_timezone_is_refused_with_the_field(api: APIClient) -> None:
    response = api.post(
        "/api/v1/projects", {"name": "Shoes", "timezone": "Mars/Olympus"}, format="json"
    )
    assert response.status_code == 400
    assert "timezone" in response.json()
    assert not Project.objects.filter(name="Shoes").exists()


def test_a_project_without_a_name_is_refused_with_the_field(api: APIClient) -> None:
    response = api.post("/api/v1/projects", {"name": "  ", "timezone": "UTC"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()


def test_the_project_list_shows_only_the_callers_projects(
    api: APIClient, project: Project, other_project: Project
) -> None:
    response = api.get("/api/v1/projects")
    assert response.status_code == 200
    assert [p["id"] for p in response.json()] == [project.pk]
    assert response.json()[0]["role"] == "admin"


def test_anonymous_callers_get_401_on_projects() -> None:
    client = APIClient()
    assert client.get("/api/v1/projects").status_code == 401
    assert client.post("/api/v1/projects", {"name": "x"}, format="json").status_code == 401


def test_an_ingest_key_does_not_open_marketer_endpoints(project: Project) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {project.ingest_key}")
    assert client.get("/api/v1/projects").status_code == 401


def test_a_member_sees_the_project_detail_with_their_role(
    project: Project, other_marketer: Any
) -> None:
    MembershipFactory(project=project, user=other_marketer, role=Membership.Role.VIEWER)
    response = client_for(other_marketer).get(f"/api/v1/projects/{project.pk}")
    assert response.status_code == 200
    assert response.json()["id"] == project.pk
    assert response.json()["role"] == "viewer"


def test_a_non_member_gets_404_on_the_project_detail(
    other_api: APIClient, project: Project
) -> None:
    assert other_api.get(f"/api/v1/projects/{project.pk}").status_code == 404


def test_an_unknown_project_is_404(api: APIClient) -> None:
    assert api.get("/api/v1/projects/999999").status_code == 404


def test_an_admin_invites_a_viewer_who_sees_the_project_once_they_accept(
    api: APIClient, project: Project, other_marketer: Any
) -> None:
    response = api.post(
        f"/api/v1/projects/{project.pk}/members",
        {"username": "bob", "role": "viewer"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["username"], body["role"], body["status"]) == ("bob", "viewer", "invited")
    members = api.get(f"/api/v1/projects/{project.pk}/members").json()
    assert members == [{"username": "ana", "role": "admin"}]
    bob = client_for(other_marketer)
    assert bob.get("/api/v1/projects").json() == []

    token = body["invitation"]["token"]
    assert bob.post(f"/api/v1/invitations/{token}/accept").status_code == 200
    members = api.get(f"/api/v1/projects/{project.pk}/members").json()
    assert members == [{"username": "ana", "role": "admin"}, {"username": "bob", "role": "viewer"}]
    assert [p["id"] for p in bob.get("/api/v1/projects").json()] == [project.pk]


def test_an_admin_changes_a_members_role(
    api: APIClient, project: Project, other_marketer: Any
) -> None:
    MembershipFactory(project=project, user=other_marketer, role=Membership.Role.VIEWER)
    response = api.post(
        f"/api/v1/projects/{project.pk}/members",
        {"username": "bob", "role": "editor"},
        format="json",
    )
    assert response.status_code == 201
    assert Membership.objects.get(project=project, user=other_marketer).role == "editor"
    assert Membership.objects.filter(project=project).count() == 2


def test_a_non_admin_member_cannot_add_members(project: Project, other_marketer: Any) -> None:
    MembershipFactory(project=project, user=other_marketer, role=Membership.Role.EDITOR)
    UserFactory(username="carl")
    response = client_for(other_marketer).post(
        f"/api/v1/projects/{project.pk}/members",
        {"username": "carl", "role": "admin"},
        format="json",
    )
    assert response.status_code == 403
    assert not Membership.objects.filter(project=project, user__username="carl").exists()


def test_a_non_member_gets_404_on_members(other_api: APIClient, project: Project) -> None:
    assert other_api.get(f"/api/v1/projects/{project.pk}/members").status_code == 404
    response = other_api.post(
        f"/api/v1/projects/{project.pk}/members",
        {"username": "bob", "role": "admin"},
        format="json",
    )
    assert response.status_code == 404
    assert not Membership.objects.filter(project=project, user__username="bob").exists()


def test_inviting_an_unknown_user_answers_as_for_a_known_one(
    api: APIClient, project: Project, other_marketer: Any
) -> None:
    def invite(username: str) -> tuple[int, set[str], set[str]]:
        response = api.post(
            f"/api/v1/projects/{project.pk}/members",
            {"username": username, "role": "viewer"},
            format="json",
        )
        body = response.json()
        return response.status_code, set(body), set(body["invitation"])

    assert invite("ghost") == invite("bob")
    assert not Membership.objects.filter(project=project, user__username="bob").exists()


def test_adding_a_member_with_an_unknown_role_is_refused(
    api: APIClient, project: Project, other_marketer: Any
) -> None:
    response = api.post(
        f"/api/v1/projects/{project.pk}/members",
        {"username": "bob", "role": "owner"},
        format="json",
    )
    assert response.status_code == 400
    assert "role" in response.json()
