"""Report pages for marketers: segment block details and campaign block details."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from builder.models import Journey
from builder.selectors import journey_get_for_user
from stats import selectors
from stats.frames import Frame, FrameInvalid, frame_from_params

DEFAULT_DAYS = 30


def _journey(request: HttpRequest, journey_id: int) -> Journey:
    try:
        return journey_get_for_user(user=request.user, journey_id=journey_id)
    except selectors.NotFound as exc:
        raise Http404("No such journey") from exc


def _frame(request: HttpRequest, journey: Journey) -> tuple[Frame, str]:
    """The frame asked for, else the last 30 days in the project's time zone."""
    error = ""
    try:
        frame = frame_from_params(request.GET)
    except FrameInvalid as exc:
        frame, error = Frame(), f"{exc.field}: {exc.message} Showing the last {DEFAULT_DAYS} days."
    if frame.start is None:
        zone = selectors.project_zone(journey.project.timezone)
        end = frame.end or timezone.now()
        first = (end - timedelta(microseconds=1)).astimezone(zone).date()
        first -= timedelta(days=DEFAULT_DAYS - 1)
        frame = Frame(datetime.combine(first, time.min, zone), frame.end)
    return frame, error


def _context(journey: Journey, frame: Frame, error: str, **extra: Any) -> dict[str, Any]:
    zone = selectors.project_zone(journey.project.timezone)
    return {
        "journey": journey,
        "project": journey.project,
        "frame_from": frame.start.astimezone(zone).date().isoformat() if frame.start else "",
        "frame_to": (
            (frame.end - timedelta(microseconds=1)).astimezone(zone).date().isoformat()
            if frame.end
            else ""
        ),
        "frame_error": error,
        "zone": journey.project.timezone,
        **extra,
    }


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@require_GET
@login_required
def segment_details(request: HttpRequest, journey_id: int, node: str) -> HttpResponse:
    journey = _journey(request, journey_id)
    frame, error = _frame(request, journey)
    try:
        report = selectors.segment_report(journey=journey, node=node, frame=frame)
    except selectors.NotFound as exc:
        raise Http404("No such segment block") from exc
    peak = max((d["evaluated"] for d in report["days"]), default=0) or 1
    for d in report["days"]:
        d["yes_pct"] = round(d["yes"] * 100 / peak, 1)
        d["no_pct"] = round(d["no"] * 100 / peak, 1)
    for s in report["sample"]:
        s["why_text"] = _pretty(s["why"])
    context = _context(journey, frame, error, report=report, definition=_pretty(report["block"]))
    return render(request, "stats/segment.html", context)


@require_GET
@login_required
def campaign_details(request: HttpRequest, journey_id: int, node: str) -> HttpResponse:
    journey = _journey(request, journey_id)
    frame, error = _frame(request, journey)
    try:
        report = selectors.campaign_report(
            journey=journey, node=node, frame=frame, profile_id=request.GET.get("profile") or None
        )
    except selectors.NotFound as exc:
        raise Http404("No such campaign block") from exc
    for d in report["days"]:
        d["counts"] = [d[s] for s in selectors.STATUSES]
    preview = report["preview"] or {}
    fields = [
        (k, v if isinstance(v, str) else _pretty(v))
        for k, v in preview.items()
        if k not in ("html",)
    ]
    context = _context(
        journey,
        frame,
        error,
        report=report,
        preview_fields=fields,
        preview_html=preview.get("html") or "",
        statuses=selectors.STATUSES,
        definition=_pretty(report["block"]),
        no_provider=_no_provider(str(report["channel"])),
    )
    return render(request, "stats/campaign.html", context)


def _no_provider(block_type: str) -> str:
    """What to set when this block's channel only records its messages, else ""."""
    from engine import channels

    # A message block's type is its channel's name.
    if block_type not in channels.CHANNEL_NAMES or channels.provider_configured(block_type):
        return ""
    return channels.PROVIDER_HINTS[block_type]
