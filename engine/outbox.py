"""The message outbox: one row per user visit of an engage block, rendered, in the move's transaction.

Rows are written in the same transaction that moves the user past the block and are
unique per (enrollment, block, visit): a replayed move writes nothing twice. Delivery
starts after commit (engine/delivery.py) and is retried from the row, never re-rendered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import transaction

from engine import consent, loaders
from engine.domain import MessageBlock, render
from engine.models import Event, Message, Profile
from engine.sql import dt_param, insert_returning, json_param

if TYPE_CHECKING:
    from engine.runner import Row

DEFAULT_IN_APP_EXPIRY = 86400


def profile_context(profile: Profile) -> dict[str, Any]:
    """``{{ profile.first_name }}``: properties at the top, then the profile's own fields."""
    return {
        **(profile.properties or {}),
        "id": profile.external_id,
        "email": profile.email,
        "phone": profile.phone,
        "timezone": profile.timezone,
        "properties": profile.properties or {},
    }


def event_context(event: Event | None) -> dict[str, Any] | None:
    if event is None:
        return None
    return {
        **(event.properties or {}),
        "name": event.name,
        "ts": event.ts.isoformat(),
        "properties": event.properties or {},
    }


def _text(source: Any, context: Mapping[str, Any]) -> str:
    return render(source, context) if isinstance(source, str) and source else ""


def render_message(
    version: loaders.Version,
    block: MessageBlock,
    profile: Profile,
    event: Event | None,
    now: datetime,
) -> dict[str, Any]:
    content = block.content
    context = {
        "profile": profile_context(profile),
        "event": event_context(event) or {},
        "journey": {"id": version.journey_id, "version": version.number},
        "node": block.id,
    }
    channel = block.channel
    if channel in ("push", "web_push"):
        return {
            "title": _text(content.get("title"), context),
            "body": _text(content.get("body"), context),
            "url": _text(content.get("url"), context),
            "tokens": [
                t
                for t in (profile.push_tokens or [])
                if channel == "push" or t.get("platform") == "web"
            ],
        }
    if channel == "email":
        unsubscribe = consent.unsubscribe_url(project_id=profile.project_id, profile_id=profile.pk)
        context = {**context, "unsubscribe_url": unsubscribe}  # {{ unsubscribe_url }}
        return {
            "to": profile.email,
            "subject": _text(content.get("subject"), context),
            "html": _text(content.get("html"), context),
            "text": _text(content.get("text"), context),
            "tracking": {
                "opens": content.get("track_opens", True),
                "clicks": content.get("track_clicks", True),
            },
            "unsubscribe_url": unsubscribe,
        }
    if channel == "sms":
        return {"to": profile.phone, "body": _text(content.get("body"), context)}
    if channel == "in_app":
        expiry = content.get("expires_after") or DEFAULT_IN_APP_EXPIRY
        seconds = expiry if isinstance(expiry, int) else DEFAULT_IN_APP_EXPIRY
        return {
            "title": _text(content.get("title"), context),
            "body": _text(content.get("body"), context),
            "button_text": _text(content.get("button_text"), context),
            "button_url": _text(content.get("button_url"), context),
            "expires_at": (now + timedelta(seconds=seconds)).isoformat(),
        }
    if channel == "webhook":
        body_template = content.get("body")
        if body_template:
            body = _text(body_template, context)
        else:
            body = json.dumps(
                {
                    "journey": version.journey_id,
                    "node": block.id,
                    "profile_id": profile.external_id,
                    "profile": {
                        "email": profile.email,
                        "phone": profile.phone,
                        "properties": profile.properties or {},
                    },
                    "event": (
                        {
                            "name": event.name,
                            "ts": event.ts.isoformat(),
                            "properties": event.properties or {},
                        }
                        if event
                        else None
                    ),
                },
                default=str,
            )
        headers = {str(k): _text(v, context) for k, v in (content.get("headers") or {}).items()}
        return {
            "url": _text(content.get("url"), context),
            "method": content.get("method") or "POST",
            "headers": headers,
            "body": body,
        }
    raise ValueError(f"Unknown channel {channel!r}")


def write(
    version: loaders.Version, block: MessageBlock, rows: Sequence[Row], now: datetime
) -> None:
    """Write the outbox rows for a batch at an engage block; delivery is started after commit."""
    profiles = Profile.objects.in_bulk([r.profile_id for r in rows])
    event_ids = {r.trigger_event_id for r in rows if r.trigger_event_id}
    events = Event.objects.in_bulk(list(event_ids)) if event_ids else {}
    now_p = dt_param(now)
    quiet = block.content.get("quiet_hours")
    rows_out = []
    for row in rows:
        profile = profiles[row.profile_id]
        event = events.get(row.trigger_event_id) if row.trigger_event_id else None
        try:
            rendered = render_message(version, block, profile, event, now)
            status, error = Message.Status.QUEUED, ""
        except Exception as exc:  # a template that fails for this profile must not block others
            rendered, status, error = {}, Message.Status.FAILED, f"Rendering failed: {exc}"
        rows_out.append(
            (
                row.project_id,
                row.journey_id,
                row.id,
                row.profile_id,
                block.id,
                row.visit,
                block.channel,
                status,
                0,
                json_param(rendered),
                error,
                now_p,
                None,
                now_p if status == Message.Status.QUEUED else None,
                # The block's choice for quiet hours, read when it is sent (engine/limits.py).
                json_param({"quiet_hours": quiet} if quiet else {}),
            )
        )
    inserted = insert_returning(
        Message._meta.db_table,
        MESSAGE_COLUMNS,
        rows_out,
        # Unique per (enrollment, block, visit): a replayed move writes no second message.
        conflict="(enrollment_id, node, visit) DO NOTHING",
        returning="id, status",
        types=MESSAGE_TYPES,
    )
    queued = [message_id for message_id, status in inserted if status == Message.Status.QUEUED]
    if queued:
        transaction.on_commit(partial(_dispatch, queued))


MESSAGE_COLUMNS = [
    "project_id", "journey_id", "enrollment_id", "profile_id", "node", "visit", "channel",
    "status", "attempts", "rendered", "error", "created_at", "sent_at", "next_attempt_at",
    "delivery",
]  # fmt: skip
MESSAGE_TYPES = [
    "bigint", "bigint", "bigint", "bigint", "text", "integer", "text",
    "text", "integer", "jsonb", "text", "timestamptz", "timestamptz", "timestamptz",
    "jsonb",
]  # fmt: skip


def _dispatch(message_ids: list[int]) -> None:
    from engine import delivery

    delivery.dispatch(message_ids)
