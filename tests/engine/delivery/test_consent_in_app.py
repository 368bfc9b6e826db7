"""An in-app message stored before its profile unsubscribed from in-app messages is no
longer handed to a page; one not stored yet is skipped with the reason."""

from __future__ import annotations

from typing import Any

import pytest

from engine import in_app
from engine.consent import subscription_set
from engine.delivery import deliver_message
from engine.models import Message
from tests.engine.delivery.conftest import MakeMessage
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db


def rendered(title: str) -> dict[str, Any]:
    return {"title": title, "body": "", "button_text": "", "button_url": "", "expires_at": None}


def test_unsubscribed_from_in_app_nothing_more_is_shown(make_message: MakeMessage) -> None:
    first = make_message("in_app", rendered("Stored"))
    profile = first.profile
    stored = deliver_message(first.pk)
    assert stored is not None
    assert stored.status == Message.Status.SENT
    queued = make_message("in_app", rendered("Queued"), profile=profile)
    other = make_message(
        "in_app", rendered("Someone else's"), profile=ProfileFactory(project=profile.project)
    )
    deliver_message(other.pk)

    subscription_set(profile_id=profile.pk, channel="in_app", subscribed=False, source="api")
    after = deliver_message(queued.pk)
    assert after is not None
    assert after.status == Message.Status.SKIPPED
    assert after.error.startswith("unsubscribed from in-app messages on ")

    mine = in_app.Listener(profile.project_id, profile.external_id)
    theirs = in_app.Listener(profile.project_id, other.profile.external_id)
    shown = in_app.messages_hand_over([mine, theirs])
    assert mine not in shown
    assert [m["title"] for m in shown[theirs]] == ["Someone else's"]
    assert Message.objects.get(pk=first.pk).status == Message.Status.SENT  # left as it was
