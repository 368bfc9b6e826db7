"""The canvas page: the builder of one journey (/journeys/<id>/), a shell for the React bundle."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render

from builder import selectors
from builder.api import JourneySerializer
from engine.domain import palette
from engine.selectors import NotFound, membership_get


@login_required
def journey_canvas(request: HttpRequest, journey_id: int) -> HttpResponse:
    """The canvas of a journey of the member's project; viewers and stopped journeys get it
    read-only. Everything the bundle needs at start comes in one ``json_script`` block."""
    try:
        journey = selectors.journey_get_for_user(user=request.user, journey_id=journey_id)
        membership = membership_get(user=request.user, project_id=journey.project_id)
    except NotFound as exc:
        raise Http404("No such journey in your projects.") from exc
    boot: dict[str, Any] = {
        "journey": dict(JourneySerializer(journey).data),
        "project": {
            "id": journey.project_id,
            "name": journey.project.name,
            "timezone": journey.project.timezone or "UTC",
        },
        "palette": palette(),
        "can_edit": bool(membership.can_edit),
        "csrf_token": get_token(request),
        "urls": {
            "api": "/api/v1/",
            "list": "/journeys/",
        },
    }
    return render(
        request,
        "builder/canvas.html",
        {"journey": journey, "boot": boot, "nav_section": "journeys"},
    )
