"""Click tracking in the plain-text part of an email (issue 10): bare web addresses become
the same signed redirects as the HTML part's links, the punctuation after them kept
outside; the unsubscribe link and links already tracked are left alone."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from engine import tracking
from engine.delivery import deliver_message
from engine.models import Event, Message
from tests.engine.delivery.conftest import MakeMessage
from tests.engine.delivery.test_email import Inbox, parts, smtp

__all__ = ["smtp"]  # the aiosmtpd fixture, used by name

PUBLIC = "https://mail.example"
UNSUB = f"{PUBLIC}/unsubscribe/tok"
# A token ends with its signature (URL-safe base64), never with a dot.
TRACKED = re.compile(re.escape(PUBLIC) + r"/m/c/[A-Za-z0-9_\-:.%]*[A-Za-z0-9_\-]")


@pytest.fixture(autouse=True)
def _public(settings: Any) -> None:
    settings.JOURNEYS_PUBLIC_URL = PUBLIC
    settings.JOURNEYS_UNSUBSCRIBE_MAILTO = ""


def text_out(text: str, *, clicks: bool = True, unsubscribe: str = UNSUB) -> str:
    rendered = {
        "to": "a@example.com",
        "html": "",
        "text": text,
        "tracking": {"opens": True, "clicks": clicks},
        "unsubscribe_url": unsubscribe,
    }
    return str(tracking.email_prepare(rendered, 7)["text"])


def destinations(text: str) -> list[str]:
    return [
        tracking.click_read(urlsplit(u).path.rsplit("/", 1)[-1])[1] for u in TRACKED.findall(text)
    ]


@pytest.mark.parametrize(
    ("written", "url", "after"),
    [
        ("See https://a.example/deal.", "https://a.example/deal", "."),
        ("(https://a.example/deal)", "https://a.example/deal", ")"),
        ("<https://a.example/deal>", "https://a.example/deal", ">"),
        ("https://a.example/deal, then", "https://a.example/deal", ", then"),
        ("Go: https://a.example/?q=1&r=2!", "https://a.example/?q=1&r=2", "!"),
        ('"https://a.example/deal"', "https://a.example/deal", '"'),
        # A bracket that belongs to the address stays in it.
        ("https://en.example/wiki/Mail_(post).", "https://en.example/wiki/Mail_(post)", "."),
        ("HTTP://A.example/Deal?x=1;", "HTTP://A.example/Deal?x=1", ";"),
    ],
)
def test_a_bare_address_becomes_a_signed_redirect_with_its_punctuation_outside(
    written: str, url: str, after: str
) -> None:
    out = text_out(written)
    assert url not in out
    assert destinations(out) == [url]
    [tracked] = TRACKED.findall(out)
    before = written[: written.lower().index(url.lower())]
    assert out.startswith(f"{before}{tracked}{after}")


def test_the_unsubscribe_link_and_tracked_links_are_left_alone_and_nothing_else_changes() -> None:
    already = tracking.click_url(3, "https://a.example/old")
    written = (
        f"Hi Ana,\n\nyour cart: https://shop.example/cart.\nOld: {already}\n"
        f"Write to mailto:help@example.com or call tel:+1555. Leave: {UNSUB}\n"
        "Nothing here: http:// and ftp://files.example/x"
    )
    out = text_out(written)
    assert destinations(out) == ["https://shop.example/cart", "https://a.example/old"]
    assert out.count(already) == 1  # not wrapped a second time
    assert TRACKED.sub("LINK", out) == (
        "Hi Ana,\n\nyour cart: LINK.\nOld: LINK\n"
        f"Write to mailto:help@example.com or call tel:+1555. Leave: {UNSUB}\n"
        "Nothing here: http:// and ftp://files.example/x"
    )
    # The unsubscribe footer is not added again, nor tracked.
    assert UNSUB in out
    assert out.count("/unsubscribe/") == 1


def test_with_click_tracking_off_the_text_goes_out_as_written() -> None:
    out = text_out("Deal: https://a.example/deal.", clicks=False)
    assert out == f"Deal: https://a.example/deal.\n\n--\nUnsubscribe from these emails: {UNSUB}\n"


@pytest.mark.django_db
def test_the_text_part_link_arrives_by_smtp_and_following_it_counts_the_click(
    make_message: MakeMessage, smtp: Inbox
) -> None:
    message = make_message(
        "email",
        {
            "to": "ana@example.com",
            "subject": "Your cart misses you",
            "html": "<p>Hi Ana</p>",
            "text": "Hi Ana, your cart is waiting: https://shop.example/cart?item=red.",
            "tracking": {"opens": False, "clicks": True},
            "unsubscribe_url": UNSUB,
        },
    )

    after = deliver_message(message.pk)

    assert after is not None
    assert after.status == Message.Status.SENT, after.error
    [(_, received)] = smtp.received
    text = parts(received)["text/plain"].replace("\r\n", "\n")
    assert "https://shop.example/cart" not in text
    [link] = TRACKED.findall(text)
    assert f"waiting: {link}.\n" in text
    assert f"Unsubscribe from these emails: {UNSUB}" in text

    followed = Client().get(urlsplit(link).path)

    assert followed.status_code == 302
    assert followed["Location"] == "https://shop.example/cart?item=red"
    message.refresh_from_db()
    assert message.status == Message.Status.CLICKED
    assert message.delivery["clicks"] == 1
    [clicked] = Event.objects.filter(profile=message.profile, name="Email Clicked")
    assert clicked.properties["url"] == "https://shop.example/cart?item=red"
    assert clicked.properties["message_id"] == message.pk
