"""Consent: each profile's subscription status per channel, the signed unsubscribe link, and
the check the engine makes right before it sends a message.

A profile is subscribed to every channel until it unsubscribes (no row means subscribed).
Webhooks call the customer's own server, not a person, so they need no consent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from engine.models import Message, Profile, Subscription

# The channels a person can unsubscribe from, with their name in plain words.
CHANNELS: Mapping[str, str] = {
    "email": "email",
    "sms": "SMS",
    "push": "mobile push",
    "web_push": "web push",
    "in_app": "in-app messages",
}
SUBSCRIBED = "subscribed"
UNSUBSCRIBED = "unsubscribed"
STATUSES = (SUBSCRIBED, UNSUBSCRIBED)
# Who changed a status (Subscription.source).
SOURCE_API = "api"
SOURCE_PAGE = "unsubscribe_link"
SOURCE_ONE_CLICK = "one_click"
SOURCE_WORDS = {
    SOURCE_API: "profiles API",
    SOURCE_PAGE: "unsubscribe link in an email",
    SOURCE_ONE_CLICK: "one-click unsubscribe from the mail app",
    "staff": "staff",
}
_SALT = "journeys.unsubscribe"


class InvalidLink(Exception):
    """An unsubscribe token that was not made by us (tampered, truncated, another key)."""


@dataclass(frozen=True)
class Status:
    channel: str
    subscribed: bool
    changed_at: datetime | None
    source: str

    @property
    def label(self) -> str:
        return CHANNELS.get(self.channel, self.channel)

    @property
    def source_text(self) -> str:
        return SOURCE_WORDS.get(self.source, self.source)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": SUBSCRIBED if self.subscribed else UNSUBSCRIBED,
            "changed_at": self.changed_at.isoformat() if self.changed_at else None,
            "source": self.source or None,
        }


# --- Reading and changing --------------------------------------------------------------


def subscriptions_of(profile: Profile) -> list[Status]:
    """Every consentable channel's status for this profile, in CHANNELS order."""
    rows = {s.channel: s for s in Subscription.objects.filter(profile=profile)}
    out = []
    for channel in CHANNELS:
        row = rows.get(channel)
        if row is None:
            out.append(Status(channel, True, None, ""))
        else:
            out.append(Status(channel, row.subscribed, row.changed_at, row.source))
    return out


def subscription_set(
    *, profile_id: int, channel: str, subscribed: bool, source: str, at: datetime | None = None
) -> bool:
    """Store one channel's status; True when it changed (the same status again keeps the
    time and source of the change that made it)."""
    if channel not in CHANNELS:
        raise ValueError(f"{channel!r} is not a channel people subscribe to")
    at = at or timezone.now()
    for _ in range(2):  # a concurrent first write of the same row: read it and update
        try:
            with transaction.atomic():
                row = (
                    Subscription.objects.select_for_update()
                    .filter(profile_id=profile_id, channel=channel)
                    .first()
                )
                if row is None:
                    Subscription.objects.create(
                        profile_id=profile_id,
                        channel=channel,
                        subscribed=subscribed,
                        changed_at=at,
                        source=source,
                    )
                    return True
                if row.subscribed == subscribed:
                    return False
                row.subscribed, row.changed_at, row.source = subscribed, at, source
                row.save(update_fields=["subscribed", "changed_at", "source"])
                return True
        except IntegrityError:
            continue
    return False


def subscriptions_merge(*, source_id: int, target_id: int) -> None:
    """Identify folds profile ``source_id`` into ``target_id``: the source's statuses move
    to the target, in the caller's transaction, before the source is deleted. Where both
    have one for a channel, the more recently changed wins (on the same instant,
    unsubscribed), so an unsubscribe made while anonymous is never lost. Run again after
    it committed, it finds no source rows and changes nothing."""
    rows = list(
        Subscription.objects.select_for_update()
        .filter(profile_id__in=(source_id, target_id))
        .order_by("pk")
    )
    theirs = {row.channel: row for row in rows if row.profile_id == target_id}
    clashing: list[int] = []
    for row in rows:
        kept = theirs.get(row.channel)
        if row.profile_id != source_id or kept is None:
            continue
        clashing.append(row.pk)
        if (row.changed_at, not row.subscribed) > (kept.changed_at, not kept.subscribed):
            fields = ["subscribed", "changed_at", "source"]
            for name in fields:
                setattr(kept, name, getattr(row, name))
            kept.save(update_fields=fields)
    # The clashing rows go first: the unique (profile, channel) never sees two at once.
    Subscription.objects.filter(pk__in=clashing).delete()
    Subscription.objects.filter(profile_id=source_id).update(profile_id=target_id)


def parse_subscriptions(value: Any) -> tuple[dict[str, bool], str | None]:
    """``{"email": "unsubscribed", ...}`` as channel -> subscribed; or the problem in words
    with the channel it concerns (``subscriptions.<channel>``)."""
    if not isinstance(value, dict):
        return {}, 'must be an object like {"email": "unsubscribed"}'
    out: dict[str, bool] = {}
    for channel, status in value.items():
        if channel not in CHANNELS:
            return {}, (
                f"{channel!r} is not a channel people subscribe to; use {', '.join(CHANNELS)}"
            )
        if status not in STATUSES:
            return {}, f"{channel}: {status!r} is not a status; use subscribed or unsubscribed"
        out[channel] = status == SUBSCRIBED
    return out, None


# --- The engine's check ----------------------------------------------------------------


def reason(channel: str, since: datetime) -> str:
    return f"unsubscribed from {CHANNELS.get(channel, channel)} on {since.date().isoformat()}"


def unsubscribed(messages: Iterable[Message]) -> dict[int, str]:
    """Message id -> why it must not be sent, for the messages whose profile unsubscribed
    from their channel. One query for the whole batch."""
    wanted = [m for m in messages if m.channel in CHANNELS]
    if not wanted:
        return {}
    refused = {
        (profile_id, channel): changed_at
        for profile_id, channel, changed_at in Subscription.objects.filter(
            profile_id__in={m.profile_id for m in wanted},
            channel__in={m.channel for m in wanted},
            subscribed=False,
        ).values_list("profile_id", "channel", "changed_at")
    }
    out = {}
    for message in wanted:
        since = refused.get((message.profile_id, message.channel))
        if since is not None:
            out[message.pk] = reason(message.channel, since)
    return out


# --- The signed link -------------------------------------------------------------------


def unsubscribe_token(*, project_id: int, profile_id: int, channel: str) -> str:
    """A link token naming one profile of one project and a channel, signed with the site's
    key: nobody can make one for another profile. It does not expire."""
    return signing.dumps([project_id, profile_id, channel], salt=_SALT)


def unsubscribe_url(*, project_id: int, profile_id: int, channel: str = "email") -> str:
    token = unsubscribe_token(project_id=project_id, profile_id=profile_id, channel=channel)
    return f"{settings.JOURNEYS_PUBLIC_URL}/unsubscribe/{token}"


def signed_list(token: str, *, salt: str, types: tuple[type, ...]) -> list[Any]:
    """The list a signed link token holds, its items of these types, or InvalidLink."""
    try:
        value = signing.loads(token, salt=salt)
    except signing.BadSignature as exc:
        raise InvalidLink(str(exc)) from exc
    if (
        not isinstance(value, list)
        or len(value) != len(types)
        or not all(isinstance(v, t) for v, t in zip(value, types, strict=True))
    ):
        raise InvalidLink("unexpected token content")
    return value


def token_read(token: str) -> tuple[int, int, str]:
    """(project id, profile id, channel) of a token, or InvalidLink."""
    project_id, profile_id, channel = signed_list(token, salt=_SALT, types=(int, int, str))
    if channel not in CHANNELS:
        raise InvalidLink("unexpected token content")
    return project_id, profile_id, channel


def link_profile(token: str) -> tuple[Profile, str]:
    """The profile and channel an unsubscribe link is for, or InvalidLink (also when the
    profile no longer exists)."""
    project_id, profile_id, channel = token_read(token)
    profile = (
        Profile.objects.filter(pk=profile_id, project_id=project_id)
        .select_related("project")
        .first()
    )
    if profile is None:
        raise InvalidLink("the profile no longer exists")
    return profile, channel
