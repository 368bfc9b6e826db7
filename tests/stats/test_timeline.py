"""A profile's journey timeline: each block passed, when, which path and why, and its message."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from engine.models import ProfileAlias
from tests.stats.conftest import Engine, with_email
from tests.stats.journeys import neither

pytestmark = pytest.mark.django_db

WITH_WEBHOOK: dict[str, Any] = {
    "settings": {"conversion_time": "P1D"},
    "entry": {"id": "entry", "type": "action", "event": "Added To Cart"},
    "nodes": [
        # A loopback address is refused by the SSRF guard: the send fails for good.
        {"id": "hook", "type": "webhook", "url": "http://127.0.0.1:9/hook"},
        {"id": "opened", "type": "action", "event": "Opened App", "within": "PT1H"},
        {
            "id": "mail",
            "type": "email",
            "subject": "Hi {{ profile.first_name }}",
            "html": "<p>x</p>",
        },
    ],
    "edges": [
        {"from": "entry", "to": "hook"},
        {"from": "hook", "to": "opened"},
        {"from": "opened", "to": "mail", "branch": "yes"},
    ],
    "goals": [{"id": "bought", "type": "action", "event": "Charged"}],
}


@pytest.fixture
def history(engine: Engine, settings: Any) -> dict[str, Any]:
    """Ana goes through the webhook journey and meets its goal, then enters a second one."""
    settings.JOURNEYS_WEBHOOK_ALLOW_PRIVATE = False
    first = engine.publish(WITH_WEBHOOK, name="Cart")
    with_email(engine, "ana", "ana@example.com", first_name="Ana")
    engine.track("ana", "Added To Cart", price=120)
    engine.advance(minutes=5)
    engine.track("ana", "Opened App", screen="home")  # yes -> mail -> parked at mail
    engine.advance(minutes=5)
    engine.track("ana", "Charged", amount=120)  # goal met at mail
    second = engine.publish(neither(), name="Welcome")
    engine.advance(minutes=5)
    engine.track("ana", "Added To Cart")  # enters the second journey only (no re-entry)
    return {"first": first, "second": second, "project": engine.project}


def timeline(api: APIClient, profile_id: str, project: Any) -> Any:
    return api.get(f"/api/v1/profiles/{profile_id}/timeline", {"project": project.pk})


def test_newest_stay_first_with_the_block_the_user_is_at_now(
    api: APIClient, history: dict[str, Any]
) -> None:
    response = timeline(api, "ana", history["project"])
    assert response.status_code == 200
    body = response.json()
    assert body["profile_id"] == "ana"
    assert [j["journey"] for j in body["journeys"]] == [history["second"].pk, history["first"].pk]
    now = body["journeys"][0]
    assert now["name"] == "Welcome"
    assert now["state"] == "active"
    assert now["current_node"] == "opened"
    assert (now["exited_at"], now["exit_reason"], now["exit_node"]) == (None, None, None)
    assert now["entered_at"] == "2026-11-28T10:15:00Z"
    assert [(s["node"], s["path"], s["current"]) for s in now["steps"]] == [
        ("entry", "yes", False),
        ("opened", None, True),
    ]
    here = now["steps"][1]
    assert here["type"] == "action"
    assert here["entered_at"] == "2026-11-28T10:15:00Z"
    assert here["left_at"] is None
    assert here["message"] is None


def test_each_step_says_which_path_why_and_how_the_message_went(
    api: APIClient, history: dict[str, Any]
) -> None:
    stay = timeline(api, "ana", history["project"]).json()["journeys"][1]
    assert stay["name"] == "Cart"
    assert stay["state"] == "exited"
    assert stay["exit_reason"] == "goal_met"
    assert stay["exit_node"] == "mail"
    assert stay["exited_at"] == "2026-11-28T10:10:00Z"
    assert stay["current_node"] is None
    steps = {s["node"]: s for s in stay["steps"]}
    assert [s["node"] for s in stay["steps"]] == ["entry", "hook", "opened", "mail"]
    assert [s["type"] for s in stay["steps"]] == ["action", "webhook", "action", "email"]
    assert {s["version"] for s in stay["steps"]} == {1}

    entry = steps["entry"]
    assert entry["path"] == "yes"
    assert entry["why"]["event"] == "Added To Cart"
    assert entry["why"]["properties"] == {"price": 120}
    assert entry["message"] is None

    hook = steps["hook"]
    assert hook["path"] == "next"
    assert hook["message"]["channel"] == "webhook"
    assert hook["message"]["status"] == "failed"
    assert hook["message"]["error"]
    assert hook["message"]["sent_at"] is None

    opened = steps["opened"]
    assert opened["path"] == "yes"
    assert opened["why"]["event"] == "Opened App"
    assert opened["entered_at"] == "2026-11-28T10:00:00Z"
    assert opened["left_at"] == "2026-11-28T10:05:00Z"

    mail = steps["mail"]
    assert mail["message"]["status"] == "recorded"  # no provider in tests: kept, not sent
    assert mail["message"]["attempts"] == 1
    assert mail["message"]["sent_at"] is None


def test_an_alias_leads_to_the_identified_profile(api: APIClient, history: dict[str, Any]) -> None:
    project = history["project"]
    ProfileAlias.objects.create(
        project=project, alias="anon-7", profile=project.profiles.get(external_id="ana")
    )
    body = timeline(api, "anon-7", project).json()
    assert body["profile_id"] == "ana"
    assert len(body["journeys"]) == 2


def test_a_profile_with_no_journey_has_an_empty_timeline(engine: Engine, api: APIClient) -> None:
    engine.profile("nobody")
    body = timeline(api, "nobody", engine.project).json()
    assert body == {"profile_id": "nobody", "journeys": []}


def test_an_unknown_profile_is_404(api: APIClient, project: Any) -> None:
    assert timeline(api, "ghost", project).status_code == 404


def test_the_project_is_required(api: APIClient, project: Any) -> None:
    response = api.get("/api/v1/profiles/ana/timeline")
    assert response.status_code == 400
    assert "project" in response.json()
    assert api.get("/api/v1/profiles/ana/timeline?project=abc").status_code == 400


def test_a_profile_of_another_project_is_not_visible(
    api: APIClient, history: dict[str, Any], other_project: Any
) -> None:
    assert timeline(api, "ana", other_project).status_code == 404


def test_timeline_takes_a_fixed_number_of_queries(
    api: APIClient, history: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    # 9: the token lookup notes its last use (at most once a minute, accounts/services.py).
    with django_assert_max_num_queries(9):
        assert timeline(api, "ana", history["project"]).status_code == 200
    # The next request within the minute does not note it again.
    with django_assert_max_num_queries(8):
        assert timeline(api, "ana", history["project"]).status_code == 200
