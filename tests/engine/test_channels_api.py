"""Marketer API for a project's channel settings: write-only secrets, admin-only writes,
400 naming the field, and test sends against a real SMTP server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from engine.models import ChannelSetting, Membership, Project
from tests.conftest import client_for
from tests.engine.delivery.smtp import no_environment_providers, smtp_with_login
from tests.factories import MembershipFactory, UserFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:Requiring AUTH:UserWarning"),
]

PASSWORD = "hunter2-but-much-longer-4f2a"
SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-token-0123456789-9b1d"


@pytest.fixture(autouse=True)
def _no_environment_providers(settings: Any) -> None:
    no_environment_providers(settings)


def url(project: Project, channel: str = "") -> str:
    base = f"/api/v1/projects/{project.pk}/channels"
    return f"{base}/{channel}" if channel else base


def smtp_body(port: int = 2525) -> dict[str, Any]:
    return {
        "provider": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "username": "mailer",
        "password": PASSWORD,
        "from_email": "shop@example.com",
    }


def by_channel(body: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entry["channel"]: entry for entry in body}


def test_every_channel_is_listed_with_who_sends_it(api: APIClient, project: Project) -> None:
    response = api.get(url(project))
    assert response.status_code == 200
    channels = by_channel(response.json())
    assert set(channels) == {"email", "sms", "push", "web_push", "webhook", "in_app"}
    assert channels["email"]["sending"] is False
    assert channels["email"]["backend"] == "record"
    assert "EMAIL_URL" in channels["email"]["hint"]
    assert channels["webhook"]["sending"] is True
    assert channels["email"]["secrets"]["password"] == {"set": False, "hint": ""}


def test_an_admin_sets_smtp_and_the_password_never_comes_back(
    api: APIClient, project: Project
) -> None:
    response = api.put(url(project, "email"), smtp_body(), format="json")
    assert response.status_code == 200, response.content
    assert PASSWORD not in response.content.decode()
    body = response.json()
    assert body["source"] == "project"
    assert body["backend"] == "smtp"
    assert body["sending"] is True
    assert body["settings"]["host"] == "127.0.0.1"
    assert body["secrets"]["password"] == {"set": True, "hint": "ends in …4f2a"}
    assert body["updated_by"] == "ana"
    for read in (url(project), url(project, "email"), f"/api/v1/projects/{project.pk}"):
        assert PASSWORD not in api.get(read).content.decode()
    assert PASSWORD not in ChannelSetting.objects.get(project=project).secrets


def test_patch_changes_only_what_it_names_and_null_clears_a_secret(
    api: APIClient, project: Project
) -> None:
    api.put(url(project, "email"), smtp_body(), format="json")
    response = api.patch(url(project, "email"), {"port": 587}, format="json")
    assert response.status_code == 200
    assert response.json()["settings"]["port"] == 587
    assert response.json()["secrets"]["password"]["set"] is True
    response = api.patch(url(project, "email"), {"password": None}, format="json")
    assert response.json()["secrets"]["password"] == {"set": False, "hint": ""}


def test_bad_settings_are_a_400_naming_each_field(api: APIClient, project: Project) -> None:
    response = api.put(
        url(project, "sms"),
        {"account_sid": "AC1", "auth_token": TOKEN, "from_number": "5550001111"},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert "AC followed by 32" in body["sms.account_sid"][0]
    assert "E.164" in body["sms.from_number"][0]
    assert TOKEN not in response.content.decode()
    response = api.put(url(project, "push"), {"service_account": "{oops"}, format="json")
    assert response.status_code == 400
    assert "is not JSON" in response.json()["push.service_account"][0]
    response = api.put(url(project, "email"), ["not", "an", "object"], format="json")
    assert response.status_code == 400
    assert not ChannelSetting.objects.exists()


def test_only_admins_write_and_members_read(project: Project, viewer_api: APIClient) -> None:
    editor = UserFactory(username="eddie")
    MembershipFactory(project=project, user=editor, role=Membership.Role.EDITOR)
    for client in (viewer_api, client_for(editor)):
        assert client.get(url(project)).status_code == 200
        assert client.put(url(project, "email"), smtp_body(), format="json").status_code == 403
        assert client.delete(url(project, "email")).status_code == 403
        test = client.post(f"{url(project, 'email')}/test", {"to": "a@b.co"}, format="json")
        assert test.status_code == 403
    assert not ChannelSetting.objects.exists()


def test_another_projects_channels_are_not_found(other_api: APIClient, project: Project) -> None:
    assert other_api.get(url(project)).status_code == 404
    assert other_api.put(url(project, "email"), smtp_body(), format="json").status_code == 404


def test_an_unknown_channel_is_not_found(api: APIClient, project: Project) -> None:
    response = api.put(url(project, "fax"), {}, format="json")
    assert response.status_code == 404
    assert "fax" in response.json()["channel"][0]


def test_delete_gives_the_channel_back_to_the_environment(api: APIClient, project: Project) -> None:
    api.put(url(project, "email"), smtp_body(), format="json")
    response = api.delete(url(project, "email"))
    assert response.status_code == 200
    assert response.json()["source"] == "environment"
    assert response.json()["backend"] == "record"


def test_a_test_email_is_really_sent_through_the_projects_server(
    api: APIClient, project: Project
) -> None:
    with smtp_with_login("mailer", PASSWORD) as inbox:
        api.put(url(project, "email"), smtp_body(inbox.port), format="json")
        response = api.post(
            f"{url(project, 'email')}/test", {"to": "me@example.com"}, format="json"
        )
    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "sent"
    assert body["backend"] == "smtp"
    assert "accepted" in body["message"]
    [(recipients, received)] = inbox.received
    assert recipients == ["me@example.com"]
    assert received["Subject"] == "Test message from Journeys (Shop)"
    assert PASSWORD not in json.dumps(body)


def test_a_test_send_without_a_provider_says_it_was_only_recorded(
    api: APIClient, project: Project
) -> None:
    response = api.post(f"{url(project, 'sms')}/test", {"to": "+15551234567"}, format="json")
    assert response.status_code == 200
    assert response.json()["outcome"] == "recorded"
    assert "no provider" in response.json()["message"]


def test_a_test_send_to_a_bad_address_is_a_400(api: APIClient, project: Project) -> None:
    response = api.post(f"{url(project, 'email')}/test", {"to": "not-an-address"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"to": ["is not an email address"]}


def test_the_schema_documents_the_channel_endpoints() -> None:
    import yaml
    from django.test import Client

    schema = yaml.safe_load(Client().get("/api/schema/").content)
    paths = schema["paths"]
    assert {"get"} <= set(paths["/api/v1/projects/{project_id}/channels"])
    one = paths["/api/v1/projects/{project_id}/channels/{channel}"]
    assert {"get", "put", "patch", "delete"} <= set(one)
    assert "400" in one["put"]["responses"]
    assert "post" in paths["/api/v1/projects/{project_id}/channels/{channel}/test"]
