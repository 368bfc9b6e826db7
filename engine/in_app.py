"""In-app messages for the web SDK: who may listen, what a page is shown, what it reports back.

The outbox row is the store (engine/channels/in_app.py marks it ``sent`` once stored).
A page's websocket (engine/consumers.py) is handed the profile's unexpired messages when
it connects and new ones as they are stored; handing one over makes it ``delivered``.
The SDK reports ``viewed`` (``opened``), ``clicked`` and ``dismissed``; viewed and
clicked are also stored as the profile's ``Notification Viewed`` / ``Notification
Clicked`` events, with a client id per message so a repeated report counts once. Each
report is one UPDATE (``_record``): counted, first time kept, status only forward.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from engine import consent
from engine.models import Message, Profile, ProfileAlias, Project
from engine.sql import dialect

Status = Message.Status

# A page may be shown these again (a page closed before the pop-up was seen).
SHOWABLE = (Status.SENT, Status.DELIVERED)
EVENTS = {"viewed": "Notification Viewed", "clicked": "Notification Clicked"}
# A report only moves a message forward, never back (a late "viewed" after "clicked").
REPORT_FROM = {
    "viewed": (Status.SENT, Status.DELIVERED),
    "clicked": (Status.SENT, Status.DELIVERED, Status.OPENED),
    "dismissed": (),
}
REPORT_TO = {"viewed": Status.OPENED, "clicked": Status.CLICKED}
# Where each report is counted in ``delivery``.
REPORT_COUNTERS = {"viewed": "views", "clicked": "clicks", "dismissed": "dismissals"}
MAX_PER_CONNECT = 20  # a page is not flooded by a backlog


class Refused(Exception):
    """The socket may not listen; ``code`` is the websocket close code the page reads."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


@dataclass(frozen=True)
class Listener:
    """A verified page: the project and the profile id it listens for."""

    project_id: int
    external_id: str


def listener_authenticate(*, key: str, profile_id: str, user_hash: str) -> Listener:
    """The project of ``key`` (its SDK key or ingest key) and the profile, or Refused.

    With identity verification on, ``user_hash`` must be hex HMAC-SHA256(project's
    identity secret, profile id), whatever the key: without it the page receives nothing.
    """
    from engine.selectors import project_by_key
    from engine.services import identity_verified

    if not key:
        raise Refused(CLOSE_UNAUTHENTICATED, "send the project's sdk_key as ?key=")
    if not profile_id or len(profile_id) > 255:
        raise Refused(CLOSE_BAD_REQUEST, "send the profile id as ?profile_id= (1-255 characters)")
    found = project_by_key(key)
    if found is None:
        raise Refused(CLOSE_UNAUTHENTICATED, "unknown key")
    project = found[0]
    if project.identity_verification and not identity_verified(project, profile_id, user_hash):
        raise Refused(CLOSE_FORBIDDEN, "identity verification is on: user_hash does not match")
    return Listener(project.pk, profile_id)


def _profiles(listeners: Iterable[Listener]) -> dict[int, Listener]:
    """Profile pk -> listener, following aliases (an anonymous id that identified)."""
    by_project: dict[int, set[str]] = {}
    for listener in listeners:
        by_project.setdefault(listener.project_id, set()).add(listener.external_id)
    found: dict[int, Listener] = {}
    if not by_project:
        return found
    own = Q()
    aliased = Q()
    for project_id, ids in by_project.items():
        own |= Q(project_id=project_id, external_id__in=ids)
        aliased |= Q(project_id=project_id, alias__in=ids)
    for pk, project_id, external_id in Profile.objects.filter(own).values_list(
        "pk", "project_id", "external_id"
    ):
        found[pk] = Listener(project_id, external_id)
    for pk, project_id, alias in ProfileAlias.objects.filter(aliased).values_list(
        "profile_id", "project_id", "alias"
    ):
        found.setdefault(pk, Listener(project_id, alias))
    return found


def _expired(message: Message, now: datetime) -> bool:
    raw = (message.rendered or {}).get("expires_at")
    if not raw:
        return False
    try:
        expires = datetime.fromisoformat(str(raw))
    except ValueError:
        return False
    if timezone.is_naive(expires):
        expires = timezone.make_aware(expires, timezone.get_current_timezone())
    return expires <= now


def payload(message: Message) -> dict[str, Any]:
    """What the SDK is sent: text fields only (it renders them as text, never HTML)."""
    rendered = message.rendered or {}
    return {
        "type": "in_app",
        "id": message.pk,
        "title": str(rendered.get("title") or ""),
        "body": str(rendered.get("body") or ""),
        "button_text": str(rendered.get("button_text") or ""),
        "button_url": str(rendered.get("button_url") or ""),
        "expires_at": rendered.get("expires_at"),
    }


def messages_hand_over(
    listeners: Iterable[Listener], *, statuses: Iterable[str] = (Status.SENT,)
) -> dict[Listener, list[dict[str, Any]]]:
    """The unexpired in-app messages (in these statuses) of these listeners' profiles, as
    payloads, marking each ``delivered``. One query to read, one update per message handed.

    Only ``sent`` ones by default (the live poll); a connecting page also asks for
    ``delivered`` ones (handed to a page that closed before it was viewed).
    """
    now = timezone.now()
    profiles = _profiles(listeners)
    if not profiles:
        return {}
    rows = list(
        Message.objects.filter(
            channel="in_app", status__in=list(statuses), profile_id__in=list(profiles)
        ).order_by("pk")[: MAX_PER_CONNECT * max(1, len(profiles))]
    )
    # Handing one over: ``delivered_at`` set and ``websocket`` dropped in one UPDATE, on
    # ``delivery`` as the database holds it (a report stored since the read above is kept).
    sql = dialect()
    facts = sql.json_merge("delivery", sql.json_object([("delivered_at", sql.param("text"))]))
    deliver = (
        f"UPDATE {Message._meta.db_table} "
        f"SET status = %s, delivery = {sql.json_without(facts, 'websocket')} "
        "WHERE id = %s AND status = %s RETURNING id"
    )
    out: dict[Listener, list[dict[str, Any]]] = {}
    # Stored before the profile unsubscribed from in-app messages: no longer shown.
    refused = consent.unsubscribed(rows)
    for message in rows:
        if _expired(message, now) or message.pk in refused:
            continue
        # Another process's socket may have taken it meanwhile: then it is theirs.
        if message.status == Status.SENT and not sql.fetch(
            deliver, [Status.DELIVERED.value, now.isoformat(), message.pk, Status.SENT.value]
        ):
            continue
        out.setdefault(profiles[message.profile_id], []).append(payload(message))
    # A test pop-up an admin sent from the channel settings (engine/channel_tests.py).
    from engine.channel_tests import in_app_take

    for pk, item in in_app_take(profiles).items():
        out.setdefault(profiles[pk], []).append(item)
    return out


def message_report(*, listener: Listener, message_id: int, action: str) -> bool:
    """Record what the page did with a message it was shown: ``viewed``, ``clicked`` or
    ``dismissed``. Viewed and clicked are stored as the profile's events too. False when
    the message is not this listener's in-app message."""
    from engine import services
    from engine.ingest import EventRecord

    if action not in REPORT_FROM:
        return False
    profiles = _profiles([listener])
    message = (
        Message.objects.filter(pk=message_id, channel="in_app", profile_id__in=list(profiles))
        .select_related("profile")
        .first()
    )
    if message is None:
        return False
    now = timezone.now()
    if not _record(message.pk, action, now):
        return False
    name = EVENTS.get(action)
    if name:
        rendered = message.rendered or {}
        properties = {
            "message_id": message.pk,
            "journey_id": message.journey_id,
            "node": message.node,
            "channel": "in_app",
            "title": str(rendered.get("title") or ""),
        }
        if action == "clicked":
            properties["button_url"] = str(rendered.get("button_url") or "")
        # The client id makes a repeated (or concurrent) report one event.
        record = EventRecord(
            profile_id=message.profile.external_id,
            name=name,
            ts=now,
            properties=properties,
            client_id=f"in-app-{message.pk}-{action}",
        )
        project = Project.objects.get(pk=message.project_id)
        services.events_ingest(project=project, records=[record])
    return True


def _record(message_id: int, action: str, now: datetime) -> bool:
    """One report in a single UPDATE: its counter (``delivery.views`` / ``clicks`` /
    ``dismissals``) plus one, its first time (``delivery.<action>_at``) set only when
    absent, and the status moved only forward, all on the row as the database holds it
    when the UPDATE takes it: a ``viewed`` racing a ``clicked`` never moves the message
    back to ``opened``, and neither loses the other's facts. False: the row is gone."""
    sql = dialect()
    key, counter = f"{action}_at", REPORT_COUNTERS[action]
    pairs = [
        (counter, f"COALESCE(CAST(delivery ->> '{counter}' AS INTEGER), 0) + 1"),
        (key, f"COALESCE(delivery ->> '{key}', {sql.param('text')})"),
    ]
    params: list[Any] = [now.isoformat()]
    status = ""
    moves_from = REPORT_FROM[action]
    if action in REPORT_TO and moves_from:
        marks = ", ".join("%s" for _ in moves_from)
        status = f", status = CASE WHEN status IN ({marks}) THEN %s ELSE status END"
        params += [*(s.value for s in moves_from), REPORT_TO[action].value]
    rows = sql.fetch(
        f"UPDATE {Message._meta.db_table} "
        f"SET delivery = {sql.json_merge('delivery', sql.json_object(pairs))}{status} "
        "WHERE id = %s AND channel = 'in_app' RETURNING id",
        [*params, message_id],
    )
    return bool(rows)
