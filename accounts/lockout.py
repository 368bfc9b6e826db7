"""What a locked-out sign-in gets (429) and which address a sign-in comes from (django-axes)."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from journeys_site import errors


def lockout_message() -> str:
    minutes = max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return (
        "Too many failed sign-ins for this account or from this address. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """429 with the reason: JSON on the API, the lockout page elsewhere (login, admin)."""
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = errors.json_response(429, errors.detail(lockout_message()))
    else:
        response = render(
            request, "accounts/lockout.html", {"message": lockout_message()}, status=429
        )
    response["Retry-After"] = retry_after
    return response


def client_ip(request: HttpRequest) -> str | None:
    """The sign-in's address: REMOTE_ADDR, or behind ``JOURNEYS_PROXY_COUNT`` trusted
    proxies the address the outermost of them saw (counted from the right of
    X-Forwarded-For, so a client cannot choose its own address by sending the header)."""
    remote = request.META.get("REMOTE_ADDR")
    count = settings.JOURNEYS_PROXY_COUNT
    if count <= 0:
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    if len(hops) < count:
        return remote
    return hops[-count]
