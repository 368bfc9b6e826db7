"""The Django admin for support staff: find profiles, read their events, never edit history."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from engine.models import Event, Membership, Profile, Project
from tests.factories import EventFactory, MembershipFactory, ProfileFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db: Any) -> Client:
    user = UserFactory(username="support", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def profiles(project: Project) -> list[Profile]:
    return [
        ProfileFactory(
            project=project, external_id="u-42", email="ana@example.com", phone="+15550100"
        ),
        ProfileFactory(
            project=project, external_id="u-43", email="ben@example.com", phone="+15550199"
        ),
        ProfileFactory(project=project, external_id="u-420", email="", phone=""),
    ]


def found(response: Any) -> list[str]:
    assert response.status_code == 200
    return sorted(str(p) for p in response.context["cl"].result_list)


def test_staff_open_the_profile_changelist(staff: Client, profiles: list[Profile]) -> None:
    response = staff.get(reverse("admin:engine_profile_changelist"))
    assert found(response) == ["u-42", "u-420", "u-43"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("u-42", ["u-42"]),  # external id: exact, so u-420 does not match
        ("ana@example.com", ["u-42"]),
        ("ben@", ["u-43"]),
        ("+15550199", ["u-43"]),
        ("nobody", []),
    ],
)
def test_staff_find_a_profile_by_external_id_email_or_phone(
    staff: Client, profiles: list[Profile], query: str, expected: list[str]
) -> None:
    response = staff.get(reverse("admin:engine_profile_changelist"), {"q": query})
    assert found(response) == expected


def test_the_profile_page_shows_its_recent_events(staff: Client, profiles: list[Profile]) -> None:
    EventFactory(profile=profiles[0], name="Added To Cart", properties={"item": "Red Shoes"})
    EventFactory(profile=profiles[0], name="Charged")
    EventFactory(profile=profiles[1], name="Someone Else's Event")
    response = staff.get(reverse("admin:engine_profile_change", args=[profiles[0].pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Added To Cart" in html
    assert "Red Shoes" in html
    assert "Charged" in html
    assert "Someone Else&#x27;s Event" not in html
    assert "Someone Else's Event" not in html


def test_event_properties_are_escaped_on_the_profile_page(
    staff: Client, profiles: list[Profile]
) -> None:
    EventFactory(profile=profiles[0], name="<script>x</script>", properties={"h": "<b>"})
    html = staff.get(reverse("admin:engine_profile_change", args=[profiles[0].pk])).content
    assert b"<script>x</script>" not in html
    assert b"<b>" not in html.split(b"Recent events")[-1]


def test_staff_list_and_view_events(staff: Client, profiles: list[Profile]) -> None:
    event = EventFactory(profile=profiles[0])
    assert staff.get(reverse("admin:engine_event_changelist")).status_code == 200
    response = staff.get(reverse("admin:engine_event_change", args=[event.pk]))
    assert response.status_code == 200
    assert b'name="_save"' not in response.content


def test_events_cannot_be_added_changed_or_deleted_in_the_admin(
    staff: Client, profiles: list[Profile]
) -> None:
    event = EventFactory(profile=profiles[0], name="Charged")
    assert staff.get(reverse("admin:engine_event_add")).status_code == 403
    assert staff.post(reverse("admin:engine_event_add"), {"name": "x"}).status_code == 403
    change = reverse("admin:engine_event_change", args=[event.pk])
    assert staff.post(change, {"name": "Edited"}).status_code == 403
    delete = reverse("admin:engine_event_delete", args=[event.pk])
    assert staff.get(delete).status_code == 403
    assert staff.post(delete, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:engine_event_changelist")
    response = staff.post(
        changelist, {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    )
    assert response.status_code in {200, 302, 403}
    event.refresh_from_db()
    assert event.name == "Charged"
    assert Event.objects.count() == 1


def test_the_project_page_lists_its_members(
    staff: Client, project: Project, other_marketer: Any
) -> None:
    MembershipFactory(project=project, user=other_marketer, role=Membership.Role.VIEWER)
    response = staff.get(reverse("admin:engine_project_change", args=[project.pk]))
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    members = sorted((f.instance.user.username, f.instance.role) for f in formset.forms)
    assert members == [("ana", "admin"), ("bob", "viewer")]


def test_the_ingest_key_is_read_only_in_the_admin(staff: Client, project: Project) -> None:
    response = staff.get(reverse("admin:engine_project_change", args=[project.pk]))
    assert project.ingest_key in response.content.decode()
    assert b'name="ingest_key"' not in response.content


def test_a_non_staff_marketer_cannot_open_the_admin(marketer: Any) -> None:
    client = Client()
    client.force_login(marketer)
    response = client.get(reverse("admin:engine_profile_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize(
    "name",
    [
        "admin:engine_project_changelist",
        "admin:engine_membership_changelist",
        "admin:engine_profilealias_changelist",
        "admin:engine_heartbeat_changelist",
        "admin:engine_profile_add",
        "admin:engine_project_add",
    ],
)
def test_every_engine_admin_page_opens(staff: Client, profiles: list[Profile], name: str) -> None:
    assert staff.get(reverse(name)).status_code == 200
