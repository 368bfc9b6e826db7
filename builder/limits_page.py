"""The project's message limits page (/settings/limits): frequency caps and quiet hours."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from builder.context import current_membership
from engine import limits
from engine.models import Membership

FIELD_ERROR_TARGETS = {"frequency_caps": "caps", "quiet_hours": "quiet_start"}


def _caps_from_form(data: Any) -> dict[str, dict[str, Any]]:
    """Form inputs ``<channel>_<period>`` as caps: empty means no cap; what is not a whole
    number is passed on as typed, so the check names it."""
    caps: dict[str, dict[str, Any]] = {}
    for channel in limits.CAPPED_CHANNELS:
        for period in limits.PERIODS:
            raw = str(data.get(f"{channel}_{period}", "")).strip()
            if raw:
                caps.setdefault(channel, {})[period] = int(raw) if raw.isdigit() else raw
    return caps


def _quiet_from_form(data: Any) -> dict[str, str] | None:
    start = str(data.get("quiet_start", "")).strip()
    end = str(data.get("quiet_end", "")).strip()
    if not start and not end:
        return None
    return {k: v for k, v in (("start", start), ("end", end)) if v}


def _input_id(path: str) -> str:
    """The input a field path's error belongs to: frequency_caps.email.day -> email_day."""
    parts = path.split(".")
    if parts[0] == "frequency_caps" and len(parts) == 3:
        return f"{parts[1]}_{parts[2]}"
    if parts[0] == "quiet_hours" and len(parts) == 2:
        return f"quiet_{parts[1]}"
    return FIELD_ERROR_TARGETS.get(parts[0], "caps")


def _rows(values: dict[str, dict[str, Any]], errors: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "channel": channel,
            "label": limits.CHANNEL_WORDS[channel],
            "periods": [
                {
                    "period": period,
                    "id": f"{channel}_{period}",
                    "value": values.get(channel, {}).get(period, ""),
                    "error": errors.get(f"{channel}_{period}", ""),
                }
                for period in limits.PERIODS
            ],
        }
        for channel in limits.CAPPED_CHANNELS
    ]


@login_required
@require_http_methods(["GET", "POST"])
def project_limits(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    if membership is None:
        return render(request, "builder/no_project.html", {"nav_section": "settings"})
    project = membership.project
    is_admin = membership.role == Membership.Role.ADMIN
    stored = limits.limits_get(project)
    caps: dict[str, dict[str, Any]] = {c: dict(p) for c, p in stored.caps.items()}
    quiet = stored.as_dict()["quiet_hours"] or {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        if not is_admin:
            raise PermissionDenied("Only project admins change message limits.")
        caps = _caps_from_form(request.POST)
        quiet_in = _quiet_from_form(request.POST)
        quiet = {
            "start": request.POST.get("quiet_start", "").strip(),
            "end": request.POST.get("quiet_end", "").strip(),
        }
        try:
            limits.limits_set(project=project, frequency_caps=caps, quiet_hours=quiet_in)
        except limits.LimitsInvalid as exc:
            errors = {_input_id(path): message for path, message in exc.errors.items()}
        else:
            messages.success(request, "Message limits saved.")
            return redirect("project-limits")
    error_list = [
        {"id": key, "message": message, "label": _error_label(key)}
        for key, message in errors.items()
    ]
    return render(
        request,
        "builder/settings_limits.html",
        {
            "nav_section": "settings",
            "project": project,
            "is_admin": is_admin,
            "rows": _rows(caps, errors),
            "quiet": quiet,
            "errors": errors,
            "error_list": error_list,
        },
        status=400 if errors else 200,
    )


def _error_label(input_id: str) -> str:
    """The visible label of the input an error is about (for the error summary)."""
    if input_id.startswith("quiet_"):
        return f"Quiet hours {input_id.removeprefix('quiet_')}"
    channel, _, period = input_id.rpartition("_")
    if channel in limits.CHANNEL_WORDS:
        word = limits.CHANNEL_WORDS[channel]
        return f"{word[0].upper()}{word[1:]} per {period}"
    return "Frequency caps"
