"""The Channels section of the project settings page: each channel's form, save, clear, test send.

Secrets are write-only here too: a form never holds one; a set secret shows as
"Set · ends in …4f2a" with a Replace field and a Clear button.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from builder.context import current_membership
from engine import channel_settings
from engine.channel_settings import FIELDS, ChannelSettingsInvalid
from engine.models import Membership, Project

TEST_SESSION_KEY = "channel_test"
NOUNS = {
    "email": "email",
    "sms": "SMS",
    "push": "push notification",
    "web_push": "web push",
    "in_app": "in-app message",
    "webhook": "webhook",
}
# Who sends, in words a marketer knows (the backend's name says it to an operator).
BACKEND_WORDS = {
    "smtp": "an SMTP server",
    "anymail": "an email service (ESP)",
    "twilio": "Twilio",
    "fcm": "Firebase Cloud Messaging",
    "webpush": "browsers' push services",
    "store": "the web SDK on your pages",
    "http": "HTTP requests to your URLs",
}
# A test's outcome as a short badge: (words, status class).
TEST_BADGES = {
    "sent": ("Sent", "status-live"),
    "recorded": ("Recorded only", "status-paused"),
    "skipped": ("Not sent", "status-paused"),
    "retry": ("Failed", "status-stopped"),
    "failed": ("Failed", "status-stopped"),
}


def _status(entry: dict[str, Any]) -> dict[str, str]:
    """The status column: a badge and what it means."""
    if not entry["sending"]:
        return {
            "badge": "Not configured",
            "css": "status-paused",
            "says": "messages are recorded, not sent",
        }
    words = BACKEND_WORDS.get(entry["backend"], entry["backend"])
    if entry["source"] == "project":
        return {"badge": "Configured (project)", "css": "status-live", "says": f"via {words}"}
    return {"badge": "From environment", "css": "status-scheduled", "says": f"via {words}"}


def _last_test(entry: dict[str, Any]) -> dict[str, Any] | None:
    last = entry.get("last_test")
    if not last:
        return None
    try:
        at: datetime | None = datetime.fromisoformat(str(last.get("at")))
    except ValueError:
        at = None
    words, css = TEST_BADGES.get(str(last.get("outcome")), ("Unknown", "status-draft"))
    if last.get("outcome") == "sent" and last.get("shown") is False:
        words, css = "Queued", "status-scheduled"  # in-app: waits for a page view
    return {"at": at, "badge": words, "css": css, "message": str(last.get("message") or "")}


UPLOAD_MAX = channel_settings.SERVICE_ACCOUNT_MAX


def channels_context(
    project: Project,
    *,
    errors: dict[str, str] | None = None,
    submitted: dict[str, Any] | None = None,
    test: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Each channel for the template: status, and for those a project may set, its fields
    with their current (non-secret) values, secret states and errors."""
    errors = errors or {}
    targets = channel_settings.last_test_targets(project.pk)
    out = []
    for entry in channel_settings.channels_overview(project):
        channel = entry["channel"]
        mine = submitted if submitted and submitted.get("channel") == channel else None
        fields = []
        for spec in FIELDS.get(channel, ()):
            secret = entry["secrets"].get(spec.name, {}) if spec.secret else {}
            value = entry["settings"].get(spec.name) if not spec.secret else ""
            if mine is not None and not spec.secret:
                value = mine.get(spec.name, "")
            fields.append(
                {
                    "name": spec.name,
                    "id": f"ch-{channel}-{spec.name}",
                    "label": spec.label,
                    "kind": spec.kind,
                    "choices": spec.choices,
                    "help": spec.help,
                    "value": "" if value is None else value,
                    "secret": spec.secret,
                    "is_set": bool(secret.get("set")),
                    "secret_hint": secret.get("hint", ""),
                    "error": errors.get(f"{channel}.{spec.name}", ""),
                }
            )
        just_tested = test if test and test.get("channel") == channel else None
        # Here, "add one under Channels in the project settings" is the form right below.
        hint = re.sub(r",? or add .* under Channels in the project settings$", "", entry["hint"])
        out.append(
            {
                **entry,
                "fields": fields,
                "hint": hint,
                "settable": channel in FIELDS,
                "noun": NOUNS.get(channel, entry["label"].lower()),
                "test": just_tested,
                # Whom the latest test went to: testing again is one click.
                "test_value": (just_tested or {}).get("to") or targets.get(channel, ""),
                "form_error": errors.get(channel, "") if mine is not None else "",
                "status": _status(entry),
                "last": _last_test(entry),
                # Shown unfolded: the form that came back with errors, the test just sent.
                "open": mine is not None or just_tested is not None,
            }
        )
    return out


def _admin(request: HttpRequest, channel: str, *, settable: bool = True) -> Membership:
    """The admin's membership; 404 for a channel that is not one (or, with ``settable``,
    has no settings of its own)."""
    membership = current_membership(request)
    if membership is None:
        raise Http404("You are not a member of any project yet.")
    if membership.role != Membership.Role.ADMIN:
        raise PermissionDenied("Only project admins change channel settings.")
    if channel not in (FIELDS if settable else channel_settings.CHANNEL_LABELS):
        raise Http404("No such channel, or it has no settings of its own.")
    return membership


def _form_data(request: HttpRequest, channel: str) -> dict[str, Any]:
    """What the form says: every non-secret field; a secret only when typed (a new value),
    uploaded (the service account file) or cleared (its Clear button: None)."""
    data: dict[str, Any] = {}
    cleared = request.POST.get("clear", "")
    for spec in FIELDS[channel]:
        if not spec.secret:
            if spec.name in request.POST:  # a Clear button's form sends only ``clear``
                data[spec.name] = request.POST[spec.name]
            continue
        if cleared == spec.name:
            data[spec.name] = None
            continue
        raw = request.POST.get(spec.name, "")
        upload = request.FILES.get(f"{spec.name}_file")
        if upload is not None:
            raw = upload.read(UPLOAD_MAX + 1).decode("utf-8", "replace")
        if raw.strip():
            data[spec.name] = raw
    return data


@login_required
@require_POST
def channel_save(request: HttpRequest, channel: str) -> HttpResponse:
    from builder.pages import settings_page

    membership = _admin(request, channel)
    data = _form_data(request, channel)
    try:
        channel_settings.channel_settings_write(
            project=membership.project,
            channel=channel,
            data=data,
            replace=False,
            actor=request.user.get_username(),
        )
    except ChannelSettingsInvalid as exc:
        submitted = {k: v for k, v in data.items() if not _is_secret(channel, k)}
        return settings_page(
            request,
            membership,
            channels=channels_context(
                membership.project,
                errors=exc.errors,
                submitted={**submitted, "channel": channel},
            ),
            status=400,
        )
    label = channel_settings.CHANNEL_LABELS[channel]
    if request.POST.get("clear"):
        messages.success(request, f"{label}: the secret was cleared.")
    else:
        messages.success(request, f"{label} settings saved. This project now uses them to send.")
    return redirect(f"/settings/#channel-{channel}")


def _is_secret(channel: str, name: str) -> bool:
    return any(f.name == name and f.secret for f in FIELDS[channel])


@login_required
@require_POST
def channel_clear(request: HttpRequest, channel: str) -> HttpResponse:
    membership = _admin(request, channel)
    channel_settings.channel_settings_clear(project=membership.project, channel=channel)
    label = channel_settings.CHANNEL_LABELS[channel]
    messages.success(
        request, f"{label}: this project's own settings were removed; the deployment's apply."
    )
    return redirect(f"/settings/#channel-{channel}")


@login_required
@require_POST
def channel_test(request: HttpRequest, channel: str) -> HttpResponse:
    membership = _admin(request, channel, settable=False)
    to = request.POST.get("to", "")
    try:
        result = channel_settings.channel_send_test(
            project=membership.project, channel=channel, to=to
        )
    except ChannelSettingsInvalid as exc:
        problem = exc.errors.get("to") or str(exc)
        test = {
            "channel": channel,
            "ok": False,
            "text": f"Not sent: what you typed {problem}.",
            "to": to.strip()[:254],  # stays in the field, to be corrected
        }
    else:
        test = {
            "channel": channel,
            "ok": result.outcome == "sent",
            "text": result.sentence,
            "to": to,
        }
    request.session[TEST_SESSION_KEY] = test
    return redirect(f"/settings/#channel-{channel}")
