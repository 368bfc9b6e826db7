"""Public pages the people who get our emails reach: the open pixel, tracked links and the
unsubscribe page (signed links, no sign-in; docs/channels.md)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from engine import consent, tracking

logger = logging.getLogger(__name__)

# The token is in the URL: kept out of caches, search engines and other sites' logs.
PRIVATE = {
    "Cache-Control": "no-store, private",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


def _private(response: HttpResponse) -> HttpResponse:
    for name, value in PRIVATE.items():
        response[name] = value
    return response


def _invalid(request: HttpRequest, what: str) -> HttpResponse:
    return _private(
        render(request, "engine/link_invalid.html", {"what": what}, status=404),
    )


@require_http_methods(["GET", "HEAD"])
def email_open(request: HttpRequest, token: str) -> HttpResponse:
    """The 1x1 pixel: marks the email opened."""
    try:
        message_id = tracking.open_read(token)
    except tracking.InvalidLink:
        return _invalid(request, "image")
    if request.method == "GET":
        try:
            tracking.email_opened(message_id)
        except Exception:  # the picture is shown whatever happens to the bookkeeping
            logger.exception("recording the open of message %s failed", message_id)
    return _private(HttpResponse(tracking.PIXEL, content_type="image/gif"))


@require_http_methods(["GET", "HEAD"])
def email_click(request: HttpRequest, token: str) -> HttpResponse:
    """A tracked link: marks the email clicked and redirects to the signed destination
    (only that one: a changed token is refused, never followed)."""
    try:
        message_id, url = tracking.click_read(token)
    except tracking.InvalidLink:
        return _invalid(request, "link")
    if request.method == "GET":
        try:
            tracking.email_clicked(message_id, url)
        except Exception:  # the reader reaches the page whatever happens to the bookkeeping
            logger.exception("recording a click of message %s failed", message_id)
    return _private(HttpResponseRedirect(url))


# Signed link: the token is the credential, and mail apps POST without a page (RFC 8058).
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a page asking to confirm. POST ``List-Unsubscribe=One-Click`` (the mail app's
    one-click request, or the page's button): unsubscribed. POST ``action=subscribe``:
    subscribed again."""
    try:
        profile, channel = consent.link_profile(token)
    except consent.InvalidLink:
        return _invalid(request, "unsubscribe link")
    state = "confirm"
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "subscribe":
            consent.subscription_set(
                profile_id=profile.pk, channel=channel, subscribed=True, source=consent.SOURCE_PAGE
            )
            state = "subscribed"
        elif request.POST.get("List-Unsubscribe") == "One-Click":
            source = consent.SOURCE_PAGE if action == "unsubscribe" else consent.SOURCE_ONE_CLICK
            consent.subscription_set(
                profile_id=profile.pk, channel=channel, subscribed=False, source=source
            )
            state = "unsubscribed"
        else:
            response = HttpResponse(
                "Send List-Unsubscribe=One-Click to unsubscribe, or action=subscribe.",
                status=400,
                content_type="text/plain; charset=utf-8",
            )
            return _private(response)
    current = next(s for s in consent.subscriptions_of(profile) if s.channel == channel)
    context = {
        "state": state,
        "status": current,
        "project": profile.project,
        "channel": consent.CHANNELS[channel],
        "address": _masked(profile.email) if channel == "email" else "",
    }
    return _private(render(request, "engine/unsubscribe.html", context))


def _masked(email: str) -> str:
    """a***@example.com: enough to recognise one's address, not to read someone else's."""
    local, _, domain = email.partition("@")
    if not domain:
        return ""
    return f"{local[:1]}***@{domain}"
