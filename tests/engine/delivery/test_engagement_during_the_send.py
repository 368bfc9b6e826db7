"""An open, a click or an in-app report that lands between the provider's accept and the
write of the outcome (link scanners and Apple Mail Privacy Protection fetch within
milliseconds) is kept: the outcome's facts are merged into the row as it is stored, and
the status ends where the engagement took it (issue 10). The engagement is made by the
sender itself, before it answers, through the site's own open and click URLs or the
in-app report, on the sending thread's own database connection; both ways of recording
are covered: one message (``deliver_message``) and a batch (``deliver_messages``, whose
sends run on pool threads and whose successes are written by one UPDATE)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import Client

from engine import in_app, tracking
from engine.channels import Result
from engine.channels import email as email_channel
from engine.channels import in_app as in_app_channel
from engine.delivery import deliver_message, deliver_messages
from engine.models import Event, Message
from tests.engine.delivery.conftest import MakeMessage

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = {"to": "ana@example.com", "subject": "Deals", "html": "<p>Hi</p>", "text": "Hi"}
POPUP = {"title": "Welcome", "body": "10% off", "expires_at": "2030-01-01T00:00:00+00:00"}
DEAL = "https://shop.example/deal"


def open_email(message_id: int) -> None:
    answer = Client().get(urlsplit(tracking.open_url(message_id)).path)
    assert answer.status_code == 200


def click_email(message_id: int) -> None:
    answer = Client().get(urlsplit(tracking.click_url(message_id, DEAL)).path)
    assert answer.status_code == 302


class EngagedBeforeAnswering:
    """A provider that accepts the message, but before its answer reaches the worker the
    recipient's side has already engaged (``engage(message_id)``)."""

    def __init__(self, engage: Callable[[int], None], result: Result) -> None:
        self.engage = engage
        self.result = result
        self.calls: list[int] = []

    def __call__(
        self, rendered: dict[str, Any], *, message_id: int, idempotency_key: str
    ) -> Result:
        self.calls.append(message_id)
        try:
            self.engage(message_id)
        finally:
            if threading.current_thread() is not threading.main_thread():
                connection.close()  # a sending pool thread's own connection
        return self.result


def deliver(how: str, message: Message) -> Message:
    if how == "one":
        deliver_message(message.pk)
    else:
        deliver_messages([message.pk])
    message.refresh_from_db()
    return message


def use_email_provider(
    settings: Any, monkeypatch: pytest.MonkeyPatch, provider: EngagedBeforeAnswering
) -> None:
    settings.JOURNEYS_EMAIL_BACKEND = "smtp"
    monkeypatch.setitem(email_channel.BACKENDS, "smtp", provider)


def names(message: Message) -> list[str]:
    return list(
        Event.objects.filter(profile_id=message.profile_id)
        .order_by("id")
        .values_list("name", flat=True)
    )


@pytest.mark.parametrize("how", ["one", "batch"])
def test_an_open_before_the_sent_outcome_is_written_ends_opened_with_the_sent_facts(
    how: str, make_message: MakeMessage, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = EngagedBeforeAnswering(open_email, Result.sent(message_id="<m-1@example.com>"))
    use_email_provider(settings, monkeypatch, provider)
    message = make_message("email", dict(EMAIL))

    message = deliver(how, message)

    assert provider.calls == [message.pk]
    assert message.status == Message.Status.OPENED
    assert message.sent_at is not None
    facts = message.delivery
    assert facts["opens"] == 1
    assert facts["opened_at"]
    assert facts["message_id"] == "<m-1@example.com>"  # the provider's
    assert facts["backend"] == "smtp"
    assert facts["idempotency_key"]
    assert [entry["outcome"] for entry in facts["log"]] == ["sent"]
    assert names(message) == ["Email Opened"]


@pytest.mark.parametrize("how", ["one", "batch"])
def test_an_open_and_a_click_before_the_sent_outcome_is_written_end_clicked(
    how: str, make_message: MakeMessage, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def scanner(message_id: int) -> None:
        open_email(message_id)
        click_email(message_id)

    provider = EngagedBeforeAnswering(scanner, Result.sent(message_id="<m-2@example.com>"))
    use_email_provider(settings, monkeypatch, provider)
    message = make_message("email", dict(EMAIL))

    message = deliver(how, message)

    assert message.status == Message.Status.CLICKED
    assert (message.delivery["opens"], message.delivery["clicks"]) == (1, 1)
    assert message.delivery["clicked_at"]
    assert message.delivery["message_id"] == "<m-2@example.com>"
    assert names(message) == ["Email Opened", "Email Clicked"]


@pytest.mark.parametrize("how", ["one", "batch"])
def test_an_in_app_view_before_the_stored_outcome_is_written_ends_opened(
    how: str, make_message: MakeMessage, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = make_message("in_app", dict(POPUP))
    listener = in_app.Listener(message.project_id, message.profile.external_id)

    def viewed(message_id: int) -> None:
        assert in_app.message_report(listener=listener, message_id=message_id, action="viewed")

    stored = in_app_channel.store(dict(POPUP), message_id=message.pk, idempotency_key="k")
    monkeypatch.setitem(in_app_channel.BACKENDS, "store", EngagedBeforeAnswering(viewed, stored))

    message = deliver(how, message)

    assert message.status == Message.Status.OPENED
    assert message.delivery["views"] == 1
    assert message.delivery["viewed_at"]
    assert message.delivery["stored"] is True
    assert message.delivery["backend"] == "store"
    assert names(message) == ["Notification Viewed"]


def test_an_open_before_a_retry_is_written_is_kept_and_the_message_stays_queued(
    make_message: MakeMessage, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider took the message but its answer was lost (the worker sees a timeout and
    will try again): the open the recipient made meanwhile is not undone."""
    provider = EngagedBeforeAnswering(open_email, Result.retry("timed out reading the answer"))
    use_email_provider(settings, monkeypatch, provider)
    message = make_message("email", dict(EMAIL))

    message = deliver("one", message)

    assert message.status == Message.Status.QUEUED
    assert message.error == "timed out reading the answer"
    assert message.delivery["opens"] == 1
    assert [entry["outcome"] for entry in message.delivery["log"]] == ["retry"]
