"""Report pages for marketers: the journey report, segment and campaign block details."""

from __future__ import annotations

import csv
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


def _why_words(why: Any) -> str:
    """What the condition saw, in the words the profile page uses."""
    from builder.page_selectors import _why

    return _why(why, None) or _pretty(why)


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
        s["why_text"] = _why_words(s["why"])
    if _wants_csv(request):
        return _csv(
            f"journey-{journey.pk}-{node}-segment.csv",
            [
                (
                    "Qualified per day",
                    ["day", "evaluated", "yes", "no"],
                    [[d["day"], d["evaluated"], d["yes"], d["no"]] for d in report["days"]],
                ),
                ("Branches", ["branch", "users"], [[b, n] for b, n in report["branches"].items()]),
                (
                    "Profiles that went yes",
                    ["profile", "at", "why"],
                    [[s["profile_id"], s["at"], s["why_text"]] for s in report["sample"]],
                ),
            ],
        )
    context = _context(journey, frame, error, report=report, definition=_pretty(report["block"]))
    context["presets"] = _presets(journey, context["frame_from"], context["frame_to"])
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
    if _wants_csv(request):
        failures = report["failures"]
        return _csv(
            f"journey-{journey.pk}-{node}-campaign.csv",
            [
                (
                    "Messages per day",
                    ["day", *selectors.STATUSES],
                    [[d["day"], *d["counts"]] for d in report["days"]],
                ),
                (
                    "Failures by reason",
                    ["reason", "messages"],
                    [[r["error"], r["count"]] for r in failures["reasons"]],
                ),
                (
                    "Latest failures",
                    ["profile", "at", "attempts", "reason"],
                    [
                        [f["profile_id"], f["at"], f["attempts"], f["error"]]
                        for f in failures["latest"]
                    ],
                ),
                (
                    "Skipped by reason",
                    ["reason", "messages"],
                    [[r["error"], r["count"]] for r in report["skips"]["reasons"]],
                ),
                (
                    "Latest recipients",
                    ["profile", "at", "status"],
                    [[r["profile_id"], r["at"], r["status"]] for r in report["recipients"]],
                ),
            ],
        )
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
        no_provider=_no_provider(str(report["channel"]), journey.project_id),
    )
    context["presets"] = _presets(journey, context["frame_from"], context["frame_to"])
    return render(request, "stats/campaign.html", context)


def _no_provider(block_type: str, project_id: int) -> str:
    """What to set when this block's channel only records its messages (for this project:
    its own channel settings, else the deployment's), else ""."""
    from engine import channels

    # A message block's type is its channel's name.
    if block_type not in channels.CHANNEL_NAMES or channels.provider_configured(
        block_type, project_id
    ):
        return ""
    return channels.PROVIDER_HINTS[block_type]


# -- time-frame presets and CSV -------------------------------------------------------------


def _presets(journey: Journey, frame_from: str, frame_to: str) -> list[dict[str, Any]]:
    """Today, 7 days and 30 days in the project's time zone, as from/to dates."""
    zone = selectors.project_zone(journey.project.timezone)
    today = timezone.now().astimezone(zone).date()
    out = []
    for label, days in (("Today", 1), ("7 days", 7), ("30 days", 30)):
        first = (today - timedelta(days=days - 1)).isoformat()
        out.append(
            {
                "label": label,
                "from": first,
                "to": today.isoformat(),
                "current": frame_from == first and frame_to in ("", today.isoformat()),
            }
        )
    return out


def _csv(filename: str, sections: list[tuple[str, list[str], list[list[Any]]]]) -> HttpResponse:
    """A CSV download: each section a title row, a header row and its rows, then a blank row."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    for title, header, rows in sections:
        writer.writerow([title])
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
        writer.writerow([])
    return response


def _wants_csv(request: HttpRequest) -> bool:
    return request.GET.get("format") == "csv"


def _block_label(raw: Any, node: str) -> str:
    if isinstance(raw, dict):
        for key in ("label", "name"):
            if isinstance(raw.get(key), str) and raw[key]:
                return str(raw[key])
    return node


def _kind(raw: Any) -> tuple[str, str]:
    """(kind label, category) of a raw block."""
    from engine.domain import block_type

    bt = block_type(str(raw.get("type"))) if isinstance(raw, dict) else None
    return (bt.label, bt.category) if bt else (str((raw or {}).get("type", "")), "")


@require_GET
@login_required
def journey_report(request: HttpRequest, journey_id: int) -> HttpResponse:
    """The journey's report: summary, entries and conversions over time, per-block figures
    with links to the block details, and stuck users."""
    journey = _journey(request, journey_id)
    frame, error = _frame(request, journey)
    stats = selectors.journey_stats(journey=journey, frame=frame)
    series = selectors.journey_series(journey=journey, frame=frame)
    stuck = selectors.journey_stuck(journey=journey)
    shape = selectors.journey_shape(journey)
    rows = []
    for node, figures in stats["nodes"].items():
        raw = shape.blocks.get(node)
        kind, category = _kind(raw)
        link = ""
        if shape.version_id is not None and category == "segment":
            link = f"/journeys/{journey.pk}/blocks/{node}/segment"
        elif shape.version_id is not None and category == "message":
            link = f"/journeys/{journey.pk}/blocks/{node}/campaign"
        rows.append(
            {
                "node": node,
                "label": _block_label(raw, node),
                "kind": kind,
                "category": category,
                "link": link,
                "branches": figures.get("branches"),
                **{k: v for k, v in figures.items() if k != "branches"},
            }
        )
    stuck_rows = []
    for node, s in stuck["nodes"].items():
        if not s["waiting"]:
            continue
        stuck_rows.append(
            {
                "node": node,
                "label": _block_label(shape.blocks.get(node), node),
                **s,
                "longest": selectors.duration_words(s["longest_wait_seconds"] or 0, units=2),
                "expected": (
                    selectors.duration_words(s["expected_seconds"])
                    if s["expected_seconds"] is not None
                    else "no limit"
                ),
                "profiles": (
                    selectors.stuck_profiles(journey=journey, node=node) if s["stuck"] else []
                ),
            }
        )
    summary = stats["summary"]
    conversion_name = "Goal Met" if shape.has_goals else "Completed"
    if _wants_csv(request):
        figures = ["entered", "current", "yes", "no", "goal_met", "time_out", "completed"]
        return _csv(
            f"journey-{journey.pk}-report.csv",
            [
                (
                    "Summary",
                    ["entry", "goal_met", "time_out", "completed", "conversion_pct"],
                    [
                        [summary[k] for k in ("entry", "goal_met", "time_out", "completed")]
                        + [summary["conversion_pct"]]
                    ],
                ),
                (
                    "Entries and conversions per day",
                    ["day", "entries", conversion_name.lower().replace(" ", "_")],
                    [[d["day"], d["entries"], d["conversions"]] for d in series["days"]],
                ),
                (
                    "Blocks",
                    ["block", "label", "kind", *figures, "branches"],
                    [
                        [
                            r["node"],
                            r["label"],
                            r["kind"],
                            *(r[f] for f in figures),
                            "; ".join(f"{b}: {n}" for b, n in (r["branches"] or {}).items()),
                        ]
                        for r in rows
                    ],
                ),
                (
                    "Users waiting now",
                    ["block", "waiting", "stuck", "longest_wait_seconds", "expected_seconds"],
                    [
                        [
                            r["node"],
                            r["waiting"],
                            r["stuck"],
                            r["longest_wait_seconds"],
                            r["expected_seconds"],
                        ]
                        for r in stuck_rows
                    ],
                ),
            ],
        )
    context = _context(
        journey,
        frame,
        error,
        summary=summary,
        conversion_name=conversion_name,
        rows=rows,
        stuck=stuck,
        grace=selectors.duration_words(stuck["grace_seconds"]),
        stuck_rows=stuck_rows,
        chart_days=json.dumps([d["day"].isoformat() for d in series["days"]]),
        chart_entries=json.dumps([d["entries"] for d in series["days"]]),
        chart_conversions=json.dumps([d["conversions"] for d in series["days"]]),
        version=shape.version_number,
    )
    context["presets"] = _presets(journey, context["frame_from"], context["frame_to"])
    return render(request, "stats/report.html", context)
