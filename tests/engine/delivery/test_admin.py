"""Support staff find a user's messages in the admin, and resend or cancel them."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

import engine.delivery_admin  # noqa: F401  (registers MessageAdmin, as engine/admin.py does)
from engine import delivery
from engine.models import Message
from tests.engine.delivery.conftest import MakeMessage
from tests.factories import ProfileFactory

HOOK = {"url": "https://hooks.example/in", "method": "POST", "headers": {}, "body": "{}"}


@pytest.fixture(autouse=True)
def _no_dispatch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "dispatch", lambda ids: None)


def test_messages_are_found_by_the_profiles_external_id(
    admin_client: Any, make_message: MakeMessage
) -> None:
    mine = make_message("webhook", HOOK, profile=ProfileFactory(external_id="u-ana"))
    make_message("webhook", HOOK, profile=ProfileFactory(external_id="u-bob"))

    response = admin_client.get(
        reverse("admin:engine_message_changelist"), {"q": "u-ana", "status__exact": "queued"}
    )

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [mine]


def test_a_message_page_shows_rendered_content_and_the_error_read_only(
    admin_client: Any, make_message: MakeMessage
) -> None:
    message = make_message("webhook", HOOK, status=Message.Status.FAILED, error="HTTP 404")
    response = admin_client.get(reverse("admin:engine_message_change", args=[message.pk]))
    assert response.status_code == 200
    assert b"hooks.example" in response.content
    assert b"HTTP 404" in response.content
    assert b'name="error"' not in response.content  # not an editable field


def test_resend_and_cancel_actions(admin_client: Any, make_message: MakeMessage) -> None:
    failed = make_message("webhook", HOOK, status=Message.Status.FAILED, error="HTTP 404")
    queued = make_message("webhook", HOOK)
    url = reverse("admin:engine_message_changelist")

    admin_client.post(url, {"action": "resend", "_selected_action": [failed.pk, queued.pk]})
    admin_client.post(url, {"action": "cancel", "_selected_action": [queued.pk]})

    failed.refresh_from_db()
    queued.refresh_from_db()
    assert (failed.status, failed.error) == (Message.Status.QUEUED, "")
    assert (queued.status, queued.error) == (Message.Status.SKIPPED, "cancelled by staff")
    assert failed.delivery["log"][-1]["by"] == "admin"
