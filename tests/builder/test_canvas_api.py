"""The canvas page and its small endpoints: who may open it, what it boots with (no inline
code, for a Content Security Policy), name suggestions and the Liquid message preview."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from builder.models import Journey
from engine.models import Project
from tests.factories import EventFactory, ProfileFactory

pytestmark = pytest.mark.django_db


def page_client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def boot_of(html: str) -> dict[str, Any]:
    match = re.search(
        r'<script id="canvas-boot" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, "the page passes its data with json_script"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def test_the_canvas_page_boots_with_the_journey_the_palette_and_the_members_rights(
    make_journey: Callable[..., Journey], marketer: Any
) -> None:
    journey = make_journey()
    response = page_client(marketer).get(f"/journeys/{journey.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    boot = boot_of(html)
    assert boot["journey"]["id"] == journey.pk
    assert boot["journey"]["definition"]["entry"]["event"] == "Added To Cart"
    assert boot["can_edit"] is True
    assert {k["label"] for k in boot["palette"]} >= {"Action", "Delay", "Email", "Mobile Push"}
    assert "/static/builder/canvas.js" in html


def test_the_canvas_page_has_no_inline_script_code_or_event_handlers(
    make_journey: Callable[..., Journey], marketer: Any
) -> None:
    html = page_client(marketer).get(f"/journeys/{make_journey().pk}/").content.decode()
    for tag in re.findall(r"<script\b[^>]*>.*?</script>", html, re.S):
        opening = tag[: tag.index(">") + 1]
        body = tag[len(opening) : -len("</script>")]
        assert "src=" in opening or 'type="application/json"' in opening, tag[:200]
        assert "src=" not in opening or not body.strip()
    assert not re.search(r"\son[a-z]+\s*=", html), "no inline event handlers"


def test_a_viewer_gets_the_canvas_read_only(
    make_journey: Callable[..., Journey], viewer: Any
) -> None:
    boot = boot_of(page_client(viewer).get(f"/journeys/{make_journey().pk}/").content.decode())
    assert boot["can_edit"] is False


def test_a_signed_out_visitor_is_sent_to_sign_in_and_a_stranger_finds_nothing(
    make_journey: Callable[..., Journey], other_marketer: Any
) -> None:
    journey = make_journey()
    response = Client().get(f"/journeys/{journey.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert page_client(other_marketer).get(f"/journeys/{journey.pk}/").status_code == 404
    assert page_client(other_marketer).get("/journeys/999999/").status_code == 404


def test_suggestions_list_the_projects_event_and_property_names(
    api: APIClient, project: Project, other_project: Project
) -> None:
    ana = ProfileFactory(project=project, properties={"first_name": "Ana", "plan": "pro"})
    for _ in range(2):
        EventFactory(profile=ana, name="Added To Cart", properties={"price": 120, "item": "x"})
    EventFactory(profile=ana, name="Charged", properties={"amount": 10})
    stranger = ProfileFactory(project=other_project, properties={"secret": 1})
    EventFactory(profile=stranger, name="Other Project Event")

    body = api.get(f"/api/v1/projects/{project.pk}/suggestions").json()
    assert body["events"] == ["Added To Cart", "Charged"]  # most frequent first
    assert body["event_properties"] == {"Added To Cart": ["item", "price"], "Charged": ["amount"]}
    assert body["profile_properties"] == ["first_name", "plan"]


def test_suggestions_of_a_project_the_caller_is_not_in_are_not_found(
    api: APIClient, other_project: Project
) -> None:
    assert api.get(f"/api/v1/projects/{other_project.pk}/suggestions").status_code == 404


def test_the_preview_renders_templates_for_a_sample_profile_by_default(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey()
    body = api.post(
        f"/api/v1/journeys/{journey.pk}/render",
        {"node": "push1", "templates": {"title": "Hi {{ profile.first_name }}", "body": ""}},
        format="json",
    ).json()
    assert body == {
        "profile_id": "sample-user",
        "sample": True,
        "rendered": {"title": "Hi Ana", "body": ""},
        "errors": {},
    }


def test_the_preview_renders_for_a_chosen_profile_and_reports_a_broken_template_by_field(
    api: APIClient, make_journey: Callable[..., Journey], project: Project
) -> None:
    journey = make_journey()
    ProfileFactory(project=project, external_id="u-7", properties={"first_name": "Bo"})
    body = api.post(
        f"/api/v1/journeys/{journey.pk}/render",
        {
            "templates": {
                "title": "Hey {{ profile.first_name }}",
                "body": "{{ profile.x | nope }}",
            },
            "profile_id": "u-7",
        },
        format="json",
    ).json()
    assert body["sample"] is False
    assert body["rendered"] == {"title": "Hey Bo"}
    assert "nope" in body["errors"]["body"]


def test_the_preview_says_which_profile_is_unknown_and_what_is_malformed(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey()
    url = f"/api/v1/journeys/{journey.pk}/render"
    unknown = api.post(url, {"templates": {"title": "x"}, "profile_id": "ghost"}, format="json")
    assert unknown.status_code == 400
    assert "ghost" in json.dumps(unknown.json())
    malformed = api.post(url, {"templates": "not an object"}, format="json")
    assert malformed.status_code == 400
    assert "templates" in malformed.json()


def test_a_viewer_may_preview_and_a_stranger_may_not(
    viewer_api: APIClient, other_api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey()
    body = {"templates": {"title": "Hi"}}
    url = f"/api/v1/journeys/{journey.pk}/render"
    assert viewer_api.post(url, body, format="json").status_code == 200
    assert other_api.post(url, body, format="json").status_code == 404
