"""Email engagement: the open pixel, tracked links and the unsubscribe headers.

At send time (engine/channels/email.py) an email's links (the HTML part's ``<a href>`` and
the text part's bare addresses) are rewritten to signed redirects and its HTML gets a 1x1
pixel (each optional per block), and every email gets an unsubscribe
link in both parts and the RFC 8058 ``List-Unsubscribe`` headers. The signature covers the
message id and the destination, so a link cannot be turned into a redirect elsewhere.
Opening and clicking move the message to ``opened`` / ``clicked`` (never back) and are
stored as the profile's ``Email Opened`` / ``Email Clicked`` events.
"""

from __future__ import annotations

import hashlib
import html as htmllib
import re
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.utils import timezone

from engine.consent import InvalidLink as InvalidLink  # a changed or foreign token
from engine.consent import signed_list
from engine.models import Message, Project
from engine.sql import dialect

Status = Message.Status

OPENED = "Email Opened"
CLICKED = "Email Clicked"
# Only forward: a late open after a click leaves "clicked".
OPEN_FROM = (Status.SENT, Status.DELIVERED)
CLICK_FROM = (Status.SENT, Status.DELIVERED, Status.OPENED)
_OPEN_SALT = "journeys.email.open"
_CLICK_SALT = "journeys.email.click"
# href="..." or href='...' of an <a> tag: group 1 up to the quote, 2 the quote, 3 the URL.
_LINK = re.compile(r"""(<a\b[^>]*?\shref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_TRACKABLE = re.compile(r"^https?://", re.IGNORECASE)
# A bare web address in the text part: up to white space, angle brackets or a quote (so
# "<https://...>" and "(https://...)" keep their brackets). Trailing punctuation is
# trimmed afterwards (_TRAILING, _CLOSING).
_BARE_URL = re.compile(r"""\bhttps?://[^\s<>"]+""", re.IGNORECASE)
_TRAILING = ".,;:!?'*"
# A closing bracket ends the address only when it has no opening one inside it
# ("https://en.wikipedia.org/wiki/Mail_(disambiguation)" keeps its ")").
_CLOSING = {")": "(", "]": "[", "}": "{"}
# A transparent 1x1 GIF.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


# --- Links ---------------------------------------------------------------------------


def open_url(message_id: int) -> str:
    token = signing.Signer(salt=_OPEN_SALT).sign(str(message_id))
    return f"{settings.JOURNEYS_PUBLIC_URL}/m/o/{quote(token, safe=':')}.gif"


def click_url(message_id: int, url: str) -> str:
    token = signing.dumps([message_id, url], salt=_CLICK_SALT, compress=True)
    return f"{settings.JOURNEYS_PUBLIC_URL}/m/c/{quote(token, safe=':.')}"


def open_read(token: str) -> int:
    try:
        return int(signing.Signer(salt=_OPEN_SALT).unsign(token))
    except (signing.BadSignature, ValueError) as exc:
        raise InvalidLink(str(exc)) from exc


def click_read(token: str) -> tuple[int, str]:
    """(message id, destination) of a click token, or InvalidLink."""
    message_id, url = signed_list(token, salt=_CLICK_SALT, types=(int, str))
    if not _TRACKABLE.match(url):
        raise InvalidLink("unexpected token content")
    return message_id, url


# --- The email as sent -----------------------------------------------------------------


def _ours(url: str, keep: str) -> bool:
    """Links left as they are: the unsubscribe link, and links that already lead through
    this site's tracking (a template that carries one is not wrapped twice)."""
    if keep and url == keep:
        return True
    public = settings.JOURNEYS_PUBLIC_URL
    return url.startswith((f"{public}/m/c/", f"{public}/m/o/"))


def _track_links(html: str, message_id: int, keep: str) -> str:
    def rewrite(match: re.Match[str]) -> str:
        url = htmllib.unescape(match.group(3)).strip()
        if not _TRACKABLE.match(url) or _ours(url, keep):
            return match.group(0)
        quote_char = match.group(2)
        return (
            f"{match.group(1)}{quote_char}{htmllib.escape(click_url(message_id, url))}{quote_char}"
        )

    return _LINK.sub(rewrite, html)


def _url_end(url: str) -> int:
    """Where a bare address found in text ends, once the sentence's punctuation after it
    ("see https://a.example/x." or "(https://a.example/x)") is left out."""
    end = len(url)
    while end:
        last = url[end - 1]
        unopened = last in _CLOSING and url.count(last, 0, end) > url.count(_CLOSING[last], 0, end)
        if last not in _TRAILING and not unopened:
            break
        end -= 1
    return end


def _track_text_links(text: str, message_id: int, keep: str) -> str:
    """Every bare http(s) address of the plain-text part becomes its signed redirect,
    the punctuation after it kept outside."""

    def rewrite(match: re.Match[str]) -> str:
        found = match.group(0)
        end = _url_end(found)
        url, after = found[:end], found[end:]
        if not url.partition("://")[2] or _ours(url, keep):
            return found
        return click_url(message_id, url) + after

    return _BARE_URL.sub(rewrite, text)


def _before_body_end(html: str, addition: str) -> str:
    at = html.lower().rfind("</body>")
    return html + addition if at < 0 else html[:at] + addition + html[at:]


def email_prepare(rendered: dict[str, Any], message_id: int) -> dict[str, Any]:
    """The email as it goes out: ``html`` and ``text`` with the tracked links, pixel and
    unsubscribe link, and the extra ``headers``. Rows written before tracking existed (no
    ``tracking`` or ``unsubscribe_url``) go out as they are."""
    out = dict(rendered)
    html = str(rendered.get("html") or "")
    text = str(rendered.get("text") or "")
    tracking = rendered.get("tracking") or {}
    unsubscribe = str(rendered.get("unsubscribe_url") or "")
    headers: dict[str, str] = {}
    if tracking.get("clicks"):
        if html:
            html = _track_links(html, message_id, unsubscribe)
        if text:
            text = _track_text_links(text, message_id, unsubscribe)
    if unsubscribe:
        targets = [f"<{unsubscribe}>"]
        mailto = settings.JOURNEYS_UNSUBSCRIBE_MAILTO
        if mailto:
            subject = quote(f"unsubscribe {unsubscribe.rsplit('/', 1)[-1]}")
            targets.append(f"<mailto:{mailto}?subject={subject}>")
        headers["List-Unsubscribe"] = ", ".join(targets)
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        if html and unsubscribe not in htmllib.unescape(html):
            html = _before_body_end(
                html,
                '<p style="font-size:12px;color:#666">'
                f'<a href="{htmllib.escape(unsubscribe)}">Unsubscribe</a> from these emails.</p>',
            )
        if unsubscribe not in text:
            text = f"{text}\n\n--\nUnsubscribe from these emails: {unsubscribe}\n".lstrip()
    if html and tracking.get("opens"):
        html = _before_body_end(
            html,
            f'<img src="{htmllib.escape(open_url(message_id))}" width="1" height="1" alt=""'
            ' style="border:0;width:1px;height:1px">',
        )
    out["html"] = html
    out["text"] = text
    out["headers"] = headers
    return out


# --- What comes back -------------------------------------------------------------------


def _event(message: Message, name: str, client_id: str, **extra: Any) -> None:
    from engine import services
    from engine.ingest import EventRecord

    properties = {
        "message_id": message.pk,
        "journey_id": message.journey_id,
        "node": message.node,
        "channel": "email",
        "subject": str((message.rendered or {}).get("subject") or ""),
        **extra,
    }
    record = EventRecord(
        profile_id=message.profile.external_id,
        name=name,
        ts=timezone.now(),
        properties=properties,
        client_id=client_id,
    )
    project = Project.objects.get(pk=message.project_id)
    services.events_ingest(project=project, records=[record])


def _email(message_id: int) -> Message | None:
    return Message.objects.filter(pk=message_id, channel="email").select_related("profile").first()


def _count(message_id: int, url: str | None) -> tuple[int, int] | None:
    """Count one open (``url`` None) or click in a single UPDATE: the counter is
    incremented by the database (``n = n + 1`` inside ``delivery``), the first times are
    set only when absent, and the status moves only forward, all computed on the row as
    it is when the UPDATE takes it, so concurrent opens and clicks never lose one.
    (opens, clicks) after this one; None: no such email."""
    sql_dialect = dialect()
    text = sql_dialect.param("text")
    now = timezone.now().isoformat()

    # ``->>`` reads a key as SQL text, the same operator on both databases.
    def count(key: str) -> str:
        return f"COALESCE(CAST(delivery ->> '{key}' AS INTEGER), 0)"

    counter = "opens" if url is None else "clicks"
    pairs = [
        (counter, f"{count(counter)} + 1"),
        ("opened_at", f"COALESCE(delivery ->> 'opened_at', {text})"),
    ]
    params: list[Any] = [now]
    if url is not None:
        pairs.append(("clicked_at", f"COALESCE(delivery ->> 'clicked_at', {text})"))
        params.append(now)
    status, moves_from = (Status.OPENED, OPEN_FROM) if url is None else (Status.CLICKED, CLICK_FROM)
    marks = ", ".join("%s" for _ in moves_from)
    sql = (
        f"UPDATE {Message._meta.db_table} "
        f"SET delivery = {sql_dialect.json_merge('delivery', sql_dialect.json_object(pairs))}, "
        f"status = CASE WHEN status IN ({marks}) THEN %s ELSE status END "
        "WHERE id = %s AND channel = 'email' "
        f"RETURNING {count('opens')}, {count('clicks')}"
    )
    params += [*(s.value for s in moves_from), status.value, message_id]
    rows = sql_dialect.fetch(sql, params)
    return (int(rows[0][0]), int(rows[0][1])) if rows else None


def _engaged(message_id: int, url: str | None) -> bool:
    """Record an open (``url`` None) or a click: the first time of each in ``delivery``,
    the counts, the forward-only status, and the events. False: no such email."""
    message = _email(message_id)
    if message is None:
        return False
    counts = _count(message.pk, url)
    if counts is None:
        return False
    # Each open or click adds one to exactly one counter, so only the first of them all
    # (the one that set opened_at) sees a total of 1, however many arrive at once.
    if sum(counts) == 1:
        _event(message, OPENED, f"email-{message.pk}-opened")
    if url is not None:
        link = hashlib.sha256(url.encode()).hexdigest()[:16]
        _event(message, CLICKED, f"email-{message.pk}-clicked-{link}", url=url)
    return True


def email_opened(message_id: int) -> bool:
    """The pixel was loaded: ``opened`` (from sent or delivered), the first time kept in
    ``delivery.opened_at``, and one ``Email Opened`` event. False: no such email."""
    return _engaged(message_id, None)


def email_clicked(message_id: int, url: str) -> bool:
    """A tracked link was followed: ``clicked`` (from sent, delivered or opened), the first
    time kept in ``delivery.clicked_at``, and an ``Email Clicked`` event per link (a click
    also counts as an open when the pixel was blocked). False: no such email."""
    return _engaged(message_id, url)
