"""Email opens and clicks are counted by one UPDATE each (engine/tracking.py): the counts
and first times live in ``delivery``, the status moves only forward, other delivery facts
are kept, and concurrent opens and clicks (PostgreSQL, real threads) never lose one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
from django.db import connection
from django.test import Client

from engine import tracking
from engine.models import Event, Message
from tests.engine.delivery.conftest import MakeMessage
from tests.engine.test_ingest_concurrency import run_together

NOON = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
DEAL = "https://shop.example/deal"
RENDERED = {"to": "ana@example.com", "subject": "Deals", "html": "<p>Hi</p>", "text": "Hi"}


def sent_email(make_message: MakeMessage, **fields: Any) -> Message:
    values = {
        "status": Message.Status.SENT,
        "delivery": {"backend": "smtp", "message_id": "<m@example.com>", "log": [{"n": 1}]},
        **fields,
    }
    return make_message("email", dict(RENDERED), **values)


def open_path(message: Message) -> str:
    return urlsplit(tracking.open_url(message.pk)).path


def click_path(message: Message, url: str = DEAL) -> str:
    return urlsplit(tracking.click_url(message.pk, url)).path


def names(message: Message) -> list[str]:
    return list(
        Event.objects.filter(profile=message.profile).order_by("id").values_list("name", flat=True)
    )


@pytest.mark.django_db
def test_counts_and_first_times_are_kept_beside_the_other_delivery_facts(
    make_message: MakeMessage,
) -> None:
    message = sent_email(make_message)
    client = Client()
    with time_machine.travel(NOON, tick=False):
        client.get(open_path(message))
    with time_machine.travel(NOON + timedelta(minutes=5), tick=False):
        client.get(open_path(message))
        client.get(click_path(message))
    with time_machine.travel(NOON + timedelta(minutes=9), tick=False):
        client.get(click_path(message, "https://shop.example/other"))
        client.get(click_path(message))
        client.get(open_path(message))

    message.refresh_from_db()
    assert message.status == Message.Status.CLICKED
    assert message.delivery == {
        "backend": "smtp",
        "message_id": "<m@example.com>",
        "log": [{"n": 1}],
        "opens": 3,
        "clicks": 3,
        "opened_at": NOON.isoformat(),
        "clicked_at": (NOON + timedelta(minutes=5)).isoformat(),
    }
    assert names(message) == ["Email Opened", "Email Clicked", "Email Clicked"]


@pytest.mark.django_db
def test_a_click_first_counts_as_the_open_and_the_status_never_moves_back(
    make_message: MakeMessage,
) -> None:
    message = sent_email(make_message)
    client = Client()
    with time_machine.travel(NOON, tick=False):
        client.get(click_path(message))
        client.get(open_path(message))

    message.refresh_from_db()
    assert message.status == Message.Status.CLICKED
    assert (message.delivery["opens"], message.delivery["clicks"]) == (1, 1)
    assert message.delivery["opened_at"] == message.delivery["clicked_at"] == NOON.isoformat()
    assert names(message) == ["Email Opened", "Email Clicked"]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Message.Status.FAILED, Message.Status.SKIPPED])
def test_an_open_or_click_of_an_email_that_did_not_go_out_is_counted_without_a_status_move(
    make_message: MakeMessage, status: str
) -> None:
    message = sent_email(make_message, status=status, delivery={})
    Client().get(open_path(message))
    Client().get(click_path(message))
    message.refresh_from_db()
    assert message.status == status
    assert (message.delivery["opens"], message.delivery["clicks"]) == (1, 1)


@pytest.mark.django_db
def test_an_open_of_a_message_that_is_not_an_email_changes_nothing(
    make_message: MakeMessage,
) -> None:
    sms = make_message("sms", {"to": "+15550100", "text": "Hi"}, status=Message.Status.SENT)
    assert tracking.email_opened(sms.pk) is False
    sms.refresh_from_db()
    assert (sms.status, sms.delivery) == (Message.Status.SENT, {})


pg_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="real concurrent writers need PostgreSQL"
)


def followed(path: str) -> Any:
    def get() -> int:
        return Client().get(path).status_code

    return get


@pytest.mark.django_db(transaction=True)
@pg_only
def test_twenty_clicks_at_once_count_twenty(make_message: MakeMessage) -> None:
    for _round in range(3):
        message = sent_email(make_message)

        answers = run_together(*[followed(click_path(message)) for _ in range(20)])

        assert answers == [302] * 20, answers
        message.refresh_from_db()
        assert message.delivery["clicks"] == 20
        assert "opens" not in message.delivery
        assert message.status == Message.Status.CLICKED
        assert message.delivery["backend"] == "smtp"
        assert sorted(names(message)) == ["Email Clicked", "Email Opened"]


@pytest.mark.django_db(transaction=True)
@pg_only
def test_opens_and_clicks_at_once_are_all_counted_and_end_clicked(
    make_message: MakeMessage,
) -> None:
    for _round in range(3):
        message = sent_email(make_message)
        jobs = [followed(open_path(message)) for _ in range(10)]
        jobs += [followed(click_path(message)) for _ in range(10)]

        answers = run_together(*jobs)

        assert sorted(answers) == [200] * 10 + [302] * 10, answers
        message.refresh_from_db()
        assert (message.delivery["opens"], message.delivery["clicks"]) == (10, 10)
        assert message.status == Message.Status.CLICKED
        assert names(message).count("Email Opened") == 1
