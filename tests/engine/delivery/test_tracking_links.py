"""engine/tracking.py: which links are rewritten, what the tokens carry, and that rows
written before tracking existed go out as they were."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from engine import tracking
from tests.engine.delivery.test_email_anymail import postmark

__all__ = ["postmark"]  # the ESP fixture, used by name

UNSUB = "https://mail.example/unsubscribe/tok"


@pytest.fixture(autouse=True)
def _public(settings: Any) -> None:
    settings.JOURNEYS_PUBLIC_URL = "https://mail.example"
    settings.JOURNEYS_UNSUBSCRIBE_MAILTO = ""


def prepared(html: str, **tracking_: bool) -> dict[str, Any]:
    return tracking.email_prepare(
        {
            "to": "a@example.com",
            "html": html,
            "text": "Hi",
            "tracking": {"opens": False, "clicks": True, **tracking_},
            "unsubscribe_url": UNSUB,
        },
        7,
    )


def test_only_web_links_are_tracked_and_each_token_carries_its_own_destination() -> None:
    html = (
        "<a href='https://a.example/x?y=1&amp;z=2'>a</a> <A HREF=\"http://b.example\">b</A>"
        ' <a href="mailto:x@example.com">m</a> <a href="#top">t</a>'
        ' <a title="x" href="tel:+1555">p</a>'
    )
    out = prepared(html)["html"]
    tracked = re.findall(r"https://mail\.example/m/c/([^'\"]+)", out)
    assert [tracking.click_read(t) for t in tracked] == [
        (7, "https://a.example/x?y=1&z=2"),
        (7, "http://b.example"),
    ]
    for kept in ('href="mailto:x@example.com"', 'href="#top"', 'href="tel:+1555"'):
        assert kept in out


def test_the_unsubscribe_link_is_never_tracked_and_not_repeated() -> None:
    out = prepared(f'<p><a href="{UNSUB}">Leave</a></p>')
    assert out["html"] == f'<p><a href="{UNSUB}">Leave</a></p>'
    assert out["headers"] == {
        "List-Unsubscribe": f"<{UNSUB}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert out["text"].endswith(f"Unsubscribe from these emails: {UNSUB}\n")


def test_the_pixel_goes_before_the_end_of_the_body() -> None:
    out = prepared("<html><body><p>Hi</p></body></html>", opens=True, clicks=False)["html"]
    assert re.search(r'<img src="https://mail\.example/m/o/7:[^"]+\.gif"[^>]*></body></html>$', out)


def test_a_row_written_before_tracking_goes_out_unchanged() -> None:
    old = {"to": "a@example.com", "html": '<a href="https://a.example">a</a>', "text": "Hi"}
    out = tracking.email_prepare(old, 7)
    assert (out["html"], out["text"], out["headers"]) == (old["html"], "Hi", {})


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        # A valid open token is not a click token (another salt), and vice versa.
        tracking.open_url(7).rsplit("/", 1)[-1].removesuffix(".gif"),
    ],
)
def test_foreign_tokens_are_refused(token: str) -> None:
    with pytest.raises(tracking.InvalidLink):
        tracking.click_read(token)


@pytest.mark.django_db
def test_a_click_for_a_message_that_is_gone_still_reaches_the_page() -> None:
    token = tracking.click_url(123456, "https://a.example/deal").rsplit("/", 1)[-1]
    answer = Client().get(f"/m/c/{token}")
    assert answer.status_code == 302
    assert answer["Location"] == "https://a.example/deal"
    assert answer["Cache-Control"] == "no-store, private"


def test_an_esp_gets_the_unsubscribe_headers_and_tracked_html(
    make_message: Any, postmark: Any
) -> None:
    from engine.delivery import deliver_message
    from tests.engine.delivery.test_email_anymail import accepted

    postmark.reply(accepted("pm-7"))
    message = make_message(
        "email",
        {
            "to": "ana@example.com",
            "subject": "Deals",
            "html": '<p><a href="https://shop.example/deal">Deal</a></p>',
            "text": "Deals",
            "tracking": {"opens": True, "clicks": True},
            "unsubscribe_url": UNSUB,
        },
    )
    after = deliver_message(message.pk)
    assert after is not None
    assert after.status == "sent", after.error
    sent = json.loads(postmark.requests[0].body)
    headers = {h["Name"]: h["Value"] for h in sent["Headers"]}
    assert headers["List-Unsubscribe"] == f"<{UNSUB}>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://shop.example/deal" not in sent["HtmlBody"]
    [token] = re.findall(r'href="https://mail\.example/m/c/([^"]+)"', sent["HtmlBody"])
    assert tracking.click_read(token) == (message.pk, "https://shop.example/deal")
    assert f"/m/o/{message.pk}:" in sent["HtmlBody"]
    assert sent["TextBody"].endswith(f"Unsubscribe from these emails: {UNSUB}\n")
