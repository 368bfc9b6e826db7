"""Members join a project only by accepting an invitation made for their username."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Invitation
from engine.models import Membership, Project
from tests.conftest import client_for
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def invite(api: APIClient, project: Project, username: str = "bob", role: str = "editor") -> Any:
    return api.post(
        f"/api/v1/projects/{project.pk}/members",
        {"username": username, "role": role},
        format="json",
    )


def is_member(project: Project, user: Any) -> bool:
    return Membership.objects.filter(project=project, user=user).exists()


def test_an_invitation_makes_no_member_until_it_is_accepted(
    api: APIClient, project: Project, other_marketer: Any
) -> None:
    body = invite(api, project).json()
    assert body["status"] == "invited"
    assert not is_member(project, other_marketer)

    accepted = client_for(other_marketer).post(
        f"/api/v1/invitations/{body['invitation']['token']}/accept"
    )

    assert accepted.status_code == 200
    assert accepted.json() == {"project": project.pk, "role": "editor"}
    assert Membership.objects.get(project=project, user=other_marketer).role == "editor"


def test_the_invitee_sees_what_they_are_invited_to(
    api: APIClient, project: Project, other_marketer: Any
) -> None:
    token = invite(api, project, role="viewer").json()["invitation"]["token"]
    body = client_for(other_marketer).get(f"/api/v1/invitations/{token}").json()
    assert body["project"] == {"id": project.pk, "name": project.name}
    assert (body["role"], body["invited_by"]) == ("viewer", "ana")


def test_someone_else_holding_the_link_cannot_accept_it(
    api: APIClient, project: Project, other_marketer: Any
) -> None:
    token = invite(api, project).json()["invitation"]["token"]
    mallory = UserFactory(username="mallory")

    assert client_for(mallory).post(f"/api/v1/invitations/{token}/accept").status_code == 404
    assert client_for(mallory).get(f"/api/v1/invitations/{token}").status_code == 404
    assert not is_member(project, mallory)
    # The link still works for its addressee.
    assert client_for(other_marketer).post(f"/api/v1/invitations/{token}/accept").status_code == 200


def test_an_expired_invitation_cannot_be_accepted(
    api: APIClient, project: Project, other_marketer: Any, time_machine: Any
) -> None:
    token = invite(api, project).json()["invitation"]["token"]
    time_machine.move_to(
        timezone.now() + timedelta(days=settings.JOURNEYS_INVITATION_TTL_DAYS, seconds=1),
        tick=False,
    )
    assert client_for(other_marketer).post(f"/api/v1/invitations/{token}/accept").status_code == 404
    assert not is_member(project, other_marketer)


def test_a_revoked_invitation_cannot_be_accepted(
    api: APIClient, project: Project, other_marketer: Any
) -> None:
    invitation = invite(api, project).json()["invitation"]
    pending = api.get(f"/api/v1/projects/{project.pk}/invitations").json()
    assert [i["id"] for i in pending] == [invitation["id"]]

    revoked = api.delete(f"/api/v1/projects/{project.pk}/invitations/{invitation['id']}")

    assert revoked.status_code == 204
    assert api.get(f"/api/v1/projects/{project.pk}/invitations").json() == []
    response = client_for(other_marketer).post(f"/api/v1/invitations/{invitation['token']}/accept")
    assert response.status_code == 404
    assert not is_member(project, other_marketer)


def test_an_invitation_is_spent_once_accepted(
    api: APIClient, project: Project, other_marketer: Any
) -> None:
    token = invite(api, project).json()["invitation"]["token"]
    bob = client_for(other_marketer)
    assert bob.post(f"/api/v1/invitations/{token}/accept").status_code == 200
    assert bob.post(f"/api/v1/invitations/{token}/accept").status_code == 404


def test_a_new_invitation_replaces_the_pending_one(
    api: APIClient, project: Project, other_marketer: Any
) -> None:
    old = invite(api, project, role="admin").json()["invitation"]["token"]
    new = invite(api, project, role="viewer").json()["invitation"]["token"]
    bob = client_for(other_marketer)
    assert bob.post(f"/api/v1/invitations/{old}/accept").status_code == 404
    assert bob.post(f"/api/v1/invitations/{new}/accept").json()["role"] == "viewer"


def test_an_invitation_for_a_username_nobody_has_looks_like_any_other(
    api: APIClient, project: Project, other_marketer: Any
) -> None:
    known, unknown = invite(api, project, "bob"), invite(api, project, "nobody-here")
    assert known.status_code == unknown.status_code == 201
    shape = {k: v for k, v in known.json().items() if k not in {"username", "invitation"}}
    assert shape == {k: v for k, v in unknown.json().items() if k not in {"username", "invitation"}}
    assert set(known.json()["invitation"]) == set(unknown.json()["invitation"])
    pending = api.get(f"/api/v1/projects/{project.pk}/invitations").json()
    assert sorted(i["username"] for i in pending) == ["bob", "nobody-here"]


def test_the_invitation_waits_for_a_user_who_signs_up_later(
    api: APIClient, project: Project
) -> None:
    token = invite(api, project, "newcomer").json()["invitation"]["token"]
    newcomer = UserFactory(username="newcomer")
    assert client_for(newcomer).post(f"/api/v1/invitations/{token}/accept").status_code == 200
    assert is_member(project, newcomer)


def test_only_admins_see_and_revoke_invitations(
    api: APIClient, project: Project, viewer_api: APIClient, other_api: APIClient
) -> None:
    invitation = invite(api, project).json()["invitation"]
    url = f"/api/v1/projects/{project.pk}/invitations"
    assert viewer_api.get(url).status_code == 403
    assert viewer_api.delete(f"{url}/{invitation['id']}").status_code == 403
    assert other_api.get(url).status_code == 404
    assert Invitation.objects.get(pk=invitation["id"]).revoked_at is None


def test_an_admin_removes_a_member_but_never_the_last_admin(
    api: APIClient, project: Project, viewer: Any, marketer: Any
) -> None:
    assert api.delete(f"/api/v1/projects/{project.pk}/members/vic").status_code == 204
    assert not is_member(project, viewer)
    response = api.delete(f"/api/v1/projects/{project.pk}/members/ana")
    assert response.status_code == 400
    assert is_member(project, marketer)
    assert api.delete(f"/api/v1/projects/{project.pk}/members/ghost").status_code == 404


def test_the_last_admin_cannot_step_down(api: APIClient, project: Project) -> None:
    response = invite(api, project, "ana", "viewer")
    assert response.status_code == 400
    assert Membership.objects.get(project=project, user__username="ana").role == "admin"


# --- Pages --------------------------------------------------------------------------


def web(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_the_invitation_page_shows_an_accept_button_that_joins_the_project(
    api: APIClient, project: Project, other_marketer: Any
) -> None:
    token = invite(api, project).json()["invitation"]["token"]
    bob = web(other_marketer)
    page = bob.get(f"/invitations/{token}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert project.name in html
    assert ">Accept</button>" in html
    assert not is_member(project, other_marketer)

    response = bob.post(f"/invitations/{token}/")

    assert response.status_code == 302
    assert is_member(project, other_marketer)


def test_the_invitation_page_asks_a_signed_out_visitor_to_sign_in(
    api: APIClient, project: Project
) -> None:
    token = invite(api, project).json()["invitation"]["token"]
    response = Client().get(f"/invitations/{token}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_the_invitation_page_is_not_found_for_someone_else(
    api: APIClient, project: Project
) -> None:
    token = invite(api, project).json()["invitation"]["token"]
    mallory = web(UserFactory(username="mallory"))
    assert mallory.get(f"/invitations/{token}/").status_code == 404
    assert mallory.post(f"/invitations/{token}/").status_code == 404
    assert not Membership.objects.filter(project=project, user__username="mallory").exists()


def test_an_admin_invites_and_revokes_from_the_settings_page(
    project: Project, marketer: Any, other_marketer: Any
) -> None:
    ana = web(marketer)
    response = ana.post(
        "/settings/members/invite", {"project": project.pk, "username": "bob", "role": "viewer"}
    )
    assert response.status_code == 302
    invitation = Invitation.objects.get(project=project, username="bob")
    assert not is_member(project, other_marketer)

    ana.post(f"/settings/invitations/{invitation.pk}/revoke", {"project": project.pk})

    invitation.refresh_from_db()
    assert invitation.revoked_at is not None


def test_an_admin_changes_a_role_and_removes_a_member_from_the_settings_page(
    project: Project, marketer: Any, viewer: Any
) -> None:
    ana = web(marketer)
    membership = Membership.objects.get(project=project, user=viewer)
    ana.post(f"/settings/members/{membership.pk}/role", {"project": project.pk, "role": "editor"})
    membership.refresh_from_db()
    assert membership.role == "editor"
    ana.post(f"/settings/members/{membership.pk}/remove", {"project": project.pk})
    assert not is_member(project, viewer)


def test_a_non_admin_cannot_use_the_member_controls(
    project: Project, viewer: Any, marketer: Any
) -> None:
    vic = web(viewer)
    admin = Membership.objects.get(project=project, user=marketer)
    assert (
        vic.post("/settings/members/invite", {"project": project.pk, "username": "x"}).status_code
        == 403
    )
    assert (
        vic.post(f"/settings/members/{admin.pk}/remove", {"project": project.pk}).status_code == 403
    )
    assert is_member(project, marketer)
    assert not Invitation.objects.exists()


def test_member_controls_for_another_project_are_not_found(
    project: Project, other_project: Project, other_marketer: Any
) -> None:
    bob = web(other_marketer)
    target = MembershipFactory(project=project, user=UserFactory(username="zed"), role="viewer")
    # bob is admin of other_project, but the membership belongs to project.
    response = bob.post(f"/settings/members/{target.pk}/remove", {"project": other_project.pk})
    assert response.status_code == 404
    response = bob.post(f"/settings/members/{target.pk}/remove", {"project": project.pk})
    assert response.status_code == 404
    assert Membership.objects.filter(pk=target.pk).exists()


def test_the_members_section_shows_admin_controls_only_to_admins(
    project: Project, marketer: Any, viewer: Any
) -> None:
    invite(client_for(marketer), project, "bob")
    admin_html = web(marketer).get("/settings/").content.decode()
    viewer_html = web(viewer).get("/settings/").content.decode()
    for html in (admin_html, viewer_html):
        assert "vic" in html
        assert "ana" in html
    assert "Pending invitations" in admin_html
    assert "bob" in admin_html
    assert 'action="/settings/members/invite"' in admin_html
    assert "Pending invitations" not in viewer_html
    assert "/settings/members/invite" not in viewer_html


# --- Email ------------------------------------------------------------------------


@pytest.fixture
def run_mail_task(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the email task in-process when it is queued (no worker in these tests)."""
    from accounts.tasks import send_invitation_email

    monkeypatch.setattr(send_invitation_email, "delay", send_invitation_email)


def test_an_invitee_with_an_email_address_gets_the_link_by_mail_after_commit(
    api: APIClient,
    project: Project,
    other_marketer: Any,
    mailoutbox: list[Any],
    run_mail_task: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        body = invite(api, project, "bob", "viewer").json()

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [other_marketer.email]
    assert "Join Shop" in mail.subject
    assert body["invitation"]["accept_url"] in mail.body


def test_no_mail_goes_to_a_username_nobody_has_and_the_answer_does_not_say(
    api: APIClient,
    project: Project,
    mailoutbox: list[Any],
    run_mail_task: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        invite(api, project, "nobody-here")
    assert len(callbacks) == 1  # queued all the same; the worker finds no one to tell
    assert mailoutbox == []


def test_no_mail_goes_out_for_an_invitation_revoked_before_the_worker_ran(
    api: APIClient, project: Project, other_marketer: Any, mailoutbox: list[Any]
) -> None:
    from accounts import services

    invitation = invite(api, project).json()["invitation"]
    api.delete(f"/api/v1/projects/{project.pk}/invitations/{invitation['id']}")
    assert services.invitation_notify(invitation_id=invitation["id"], link="x") is False
    assert mailoutbox == []
