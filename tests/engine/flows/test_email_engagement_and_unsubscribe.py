"""Issue 10 item 5: a journey's email reaches a real SMTP server (aiosmtpd) with a signed
tracked link, an open pixel and the RFC 8058 unsubscribe headers; following the link
redirects and marks the message clicked (and meets a goal on ``Email Clicked``); the pixel
marks it opened; changed tokens are refused; a one-click POST unsubscribes, and the next
email to that person is skipped with the reason, even one queued before the unsubscribe."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from django.test import Client

from engine.models import Event, Message, Profile, Subscription
from tests.engine.delivery.test_email import Inbox, parts, smtp
from tests.engine.flows.conftest import START, define

pytestmark = pytest.mark.django_db

__all__ = ["smtp"]  # the aiosmtpd fixture, used by name below

SHOP = "https://shop.example.com/cart?item=red&utm=mail"
HTML = (
    "<html><body><p>Hi {{ profile.first_name }}</p>"
    f'<p><a href="{SHOP.replace("&", "&amp;")}">Back to your cart</a></p>'
    '<p><a href="mailto:help@example.com">Write to us</a></p></body></html>'
)
CLICKED_GOAL = {"id": "clicked", "type": "action", "event": "Email Clicked"}


def mail(node_id: str = "mail", **extra: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "email",
        "subject": "Your cart misses you",
        "html": HTML,
        "text": "Hi {{ profile.first_name }}, your cart: " + SHOP,
        **extra,
    }


def journey_with_mail(**extra: Any) -> dict[str, Any]:
    return define(
        START,
        [mail(**extra), {"id": "wait", "type": "delay", "duration": "P1D"}],
        [("entry", "mail"), ("mail", "wait")],
        goals=[CLICKED_GOAL],
        allow_reentry=True,
    )


def ana(engine: Any) -> None:
    engine.profile("u1", first_name="Ana")
    Profile.objects.filter(external_id="u1").update(email="ana@example.com")


def local_path(url: str) -> str:
    parts_ = urlsplit(url)
    assert f"{parts_.scheme}://{parts_.netloc}" == "https://mail.shop.example"
    return parts_.path


def links(html: str) -> list[str]:
    return [m.replace("&amp;", "&") for m in re.findall(r'href="([^"]+)"', html)]


@pytest.fixture(autouse=True)
def _public_url(settings: Any) -> None:
    settings.JOURNEYS_PUBLIC_URL = "https://mail.shop.example"
    settings.JOURNEYS_UNSUBSCRIBE_MAILTO = "unsubscribe@shop.example"


def test_a_tracked_email_is_opened_clicked_and_meets_the_goal(engine: Any, smtp: Inbox) -> None:
    journey = engine.publish(journey_with_mail())
    ana(engine)
    engine.events({"profile_id": "u1", "name": "Start"})
    engine.run_due()
    [message] = engine.messages(journey, "mail")
    assert message.status == Message.Status.SENT

    [(recipients, received)] = smtp.received
    assert recipients == ["ana@example.com"]
    unsubscribe = message.rendered["unsubscribe_url"]
    # Long headers are folded over lines; a mail app reads the <...> list back.
    targets = re.findall(r"<([^>]+)>", received["List-Unsubscribe"])
    token = unsubscribe.rsplit("/", 1)[-1]
    assert targets == [
        unsubscribe,
        f"mailto:unsubscribe@shop.example?subject=unsubscribe%20{quote(token)}",
    ]
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = parts(received)
    html, text = body["text/html"], body["text/plain"]
    assert f"Unsubscribe from these emails: {unsubscribe}" in text
    hrefs = links(html)
    tracked = [h for h in hrefs if "/m/c/" in h]
    assert len(tracked) == 1  # the shop link; not mailto:, not the unsubscribe link
    assert SHOP not in html  # only behind the signed redirect
    assert "mailto:help@example.com" in hrefs
    assert unsubscribe in hrefs
    [pixel] = re.findall(r'<img src="([^"]+)"', html)

    client = Client()
    # Changed tokens are refused: never a redirect somewhere else.
    path = local_path(tracked[0])
    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert client.get(forged).status_code == 404
    assert client.get(local_path(pixel).replace(f"/{message.pk}:", "/999:")).status_code == 404
    assert Message.objects.get(pk=message.pk).status == Message.Status.SENT

    opened = client.get(local_path(pixel))
    assert opened.status_code == 200
    assert opened["Content-Type"] == "image/gif"
    message.refresh_from_db()
    assert message.status == Message.Status.OPENED
    assert "opened_at" in message.delivery

    with engine._capture(execute=True):
        followed = client.get(path)
    assert followed.status_code == 302
    assert followed["Location"] == SHOP
    message.refresh_from_db()
    assert message.status == Message.Status.CLICKED
    assert message.delivery["clicked_at"]

    # A late open after the click leaves "clicked".
    client.get(local_path(pixel))
    message.refresh_from_db()
    assert message.status == Message.Status.CLICKED

    events = Event.objects.filter(profile__external_id="u1").order_by("id")
    named = {e.name: e for e in events}
    assert named["Email Opened"].properties["message_id"] == message.pk
    assert named["Email Clicked"].properties == {
        "message_id": message.pk,
        "journey_id": journey.pk,
        "node": "mail",
        "channel": "email",
        "subject": "Your cart misses you",
        "url": SHOP,
    }
    assert list(events.values_list("name", flat=True)).count("Email Opened") == 1
    engine.run_due()
    assert engine.at(journey, "u1") == ("exited", "wait", "goal_met")


def test_tracking_can_be_turned_off_per_block(engine: Any, smtp: Inbox) -> None:
    engine.publish(journey_with_mail(track_opens="off", track_clicks="off"))
    ana(engine)
    engine.events({"profile_id": "u1", "name": "Start"})
    engine.run_due()
    [(_, received)] = smtp.received
    html = parts(received)["text/html"]
    assert SHOP.replace("&", "&amp;") in html
    assert "/m/c/" not in html
    assert "<img" not in html
    # Unsubscribing is never optional on a marketing email.
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/unsubscribe/" in html


def test_one_click_unsubscribes_and_the_next_email_is_skipped(engine: Any, smtp: Inbox) -> None:
    journey = engine.publish(
        define(
            START,
            [mail("mail"), {"id": "wait", "type": "delay", "duration": "PT1H"}, mail("again")],
            [("entry", "mail"), ("mail", "wait"), ("wait", "again")],
        )
    )
    ana(engine)
    engine.events({"profile_id": "u1", "name": "Start"})
    engine.run_due()
    [first] = engine.messages(journey, "mail")
    assert first.status == Message.Status.SENT
    unsubscribe = local_path(first.rendered["unsubscribe_url"])

    client = Client(enforce_csrf_checks=True)  # the mail app has no CSRF token, nor a page
    form = "application/x-www-form-urlencoded"
    tampered = unsubscribe[:-2] + ("xx" if not unsubscribe.endswith("xx") else "yy")
    assert client.post(tampered, "List-Unsubscribe=One-Click", content_type=form).status_code == 404
    assert client.post(unsubscribe, "nothing=here", content_type=form).status_code == 400
    assert not Subscription.objects.exists()
    answer = client.post(unsubscribe, "List-Unsubscribe=One-Click", content_type=form)
    assert answer.status_code == 200
    row = Subscription.objects.get(profile__external_id="u1", channel="email")
    assert (row.subscribed, row.source) == (False, "one_click")

    engine.advance(hours=1, seconds=1)
    [second] = engine.messages(journey, "again")
    assert second.status == Message.Status.SKIPPED
    assert second.error == f"unsubscribed from email on {row.changed_at.date().isoformat()}"
    assert len(smtp.received) == 1
    # The profile page says why, and shows the status with when and how it changed.
    staff = Client()
    staff.force_login(engine.user)
    page = staff.get("/profiles/u1/").content.decode()
    assert f"Email message: skipped — {second.error}" in page
    assert "<strong>Unsubscribed</strong>" in page
    assert "one-click unsubscribe from the mail app" in page


def test_a_message_queued_before_the_unsubscribe_is_skipped_when_sent(
    engine: Any, smtp: Inbox, monkeypatch: Any
) -> None:
    from engine import delivery
    from engine.consent import subscription_set

    # The message waits in the queue (no worker picks it up yet).
    monkeypatch.setattr(delivery.deliver_messages, "delay_on_commit", lambda *a, **k: None)
    journey = engine.publish(journey_with_mail())
    ana(engine)
    engine.events({"profile_id": "u1", "name": "Start"})
    [queued] = engine.messages(journey, "mail")
    assert queued.status == Message.Status.QUEUED
    subscription_set(profile_id=queued.profile_id, channel="email", subscribed=False, source="api")
    after = delivery.deliver_message(queued.pk)
    assert after is not None
    assert after.status == Message.Status.SKIPPED
    assert after.error.startswith("unsubscribed from email on ")
    assert after.delivery["backend"] == "consent"
    assert smtp.received == []
