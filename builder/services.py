"""Writes of journeys: create, edit, publish (with the in-flight choice), lifecycle, copies.

Every service is keyword-only and runs in one transaction. Lifecycle services lock the
journey row (``SELECT ... FOR UPDATE``) first, so two concurrent publishes serialise and
cannot write the same version number twice (the unique constraint is the backstop).
``journey_changed`` is sent after the commit whenever what runs changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from builder import in_flight
from builder.models import Journey, JourneyVersion
from builder.selectors import (
    journey_definition,
    journey_has_unpublished_changes,
    journey_validation_context,
)
from builder.signals import journey_changed
from engine import in_flight as engine_in_flight
from engine.domain import (
    Definition,
    DefinitionError,
    DefinitionInvalid,
    json_equal,
    parse_definition,
)
from engine.domain.bounds import bounds_errors
from engine.models import Enrollment, Project

__all__ = [
    "EXPORT_FORMAT",
    "ImportInvalid",
    "InFlightInvalid",
    "JourneyError",
    "RevisionConflict",
    "TransitionRefused",
    "journey_create",
    "journey_delete",
    "journey_duplicate",
    "journey_export",
    "journey_import",
    "journey_pause",
    "journey_publish",
    "journey_resume",
    "journey_stop",
    "journey_update",
]

EXPORT_FORMAT = "journeys/v1"
COPY_SUFFIX = " (copy)"
NAME_MAX = 200
S = Journey.Status
User = AbstractBaseUser | AnonymousUser | None
InFlightInvalid = in_flight.InFlightInvalid
_UNSET: Any = object()


class JourneyError(Exception):
    """Base of the builder's domain errors."""


class TransitionRefused(JourneyError):
    """The journey's status does not allow this (HTTP 409 with the current status)."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class RevisionConflict(JourneyError):
    """The edit was made against an older revision of the journey (HTTP 409)."""

    def __init__(self, revision: int) -> None:
        super().__init__(f"The journey was changed since revision you sent; it is now {revision}.")
        self.revision = revision


class ImportInvalid(JourneyError):
    """An import document that is not one (HTTP 400, ``{field: [message]}``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# -- helpers ------------------------------------------------------------------------------


def _dump(definition: Any) -> str:
    return json.dumps(definition, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _user_id(user: User) -> int | None:
    return user.pk if user is not None and user.is_authenticated else None


def _parse(definition: Any, *, project_id: int, journey_id: int | None) -> Definition:
    # Size, depth and storability first: nothing below may recurse into or store an
    # oversized definition (a 500-deep layout once broke the journey list for good).
    problems = bounds_errors(definition)
    if problems:
        raise DefinitionInvalid(problems)
    context = journey_validation_context(project_id=project_id, journey_id=journey_id)
    return parse_definition(definition, context=context)


def _lock(journey: Journey | int) -> Journey:
    pk = journey.pk if isinstance(journey, Journey) else journey
    return Journey.objects.select_for_update().get(pk=pk)


def _announce(journey: Journey) -> None:
    """Tell the engine after the commit (nothing is sent if the transaction rolls back)."""
    kwargs = {
        "journey_id": journey.pk,
        "project_id": journey.project_id,
        "status": journey.status,
        "version_id": journey.live_version_id,
    }
    transaction.on_commit(lambda: journey_changed.send(sender=Journey, **kwargs))


def _running_status(start_at: datetime | None, now: datetime) -> str:
    return S.SCHEDULED if start_at is not None and start_at > now else S.LIVE


def _refuse(journey: Journey, message: str) -> TransitionRefused:
    return TransitionRefused(message, journey.status)


# -- create and edit ----------------------------------------------------------------------


@transaction.atomic
def journey_create(*, project: Project, user: User, name: str, definition: Any) -> Journey:
    """A new draft after full validation (DefinitionInvalid otherwise).

    On retry: a second, identical draft is created (creation is not idempotent).
    """
    _parse(definition, project_id=project.pk, journey_id=None)
    return Journey.objects.create(
        project=project,
        name=name,
        definition=definition,
        definition_text=_dump(definition),
        created_by_id=_user_id(user),
    )


@transaction.atomic
def journey_update(
    *,
    journey: Journey,
    user: User,
    name: str | None = None,
    definition: Any = _UNSET,
    in_flight_choice: Any = None,
    revision: int | None = None,
) -> Journey:
    """Rename and/or replace the definition (fully validated).

    A changed definition of a live, paused or scheduled journey is published at once as a
    new version (status unchanged), applying ``in_flight_choice`` to users in flight. A
    stopped journey's definition cannot change (TransitionRefused). With ``revision``, an
    edit made against another revision is refused (RevisionConflict).

    On retry: the same body changes nothing the second time (no new version, no revision
    bump); with ``revision`` it is refused as a conflict, which tells the client it landed.
    """
    locked = _lock(journey)
    if revision is not None and revision != locked.revision:
        raise RevisionConflict(locked.revision)
    now = timezone.now()
    changed = published = False
    if name is not None and name != locked.name:
        locked.name = name
        locked.updated_by_id = _user_id(user)
        changed = True
    if definition is not _UNSET:
        if locked.status == S.STOPPED:
            raise _refuse(locked, "A stopped journey cannot be edited; duplicate it instead.")
        parsed = _parse(definition, project_id=locked.project_id, journey_id=locked.pk)
        text = _dump(definition)
        if text != locked.definition_text or not json_equal(definition, locked.definition):
            locked.definition = definition
            locked.definition_text = text
            locked.updated_by_id = _user_id(user)
            changed = True
        if locked.status != S.DRAFT and journey_has_unpublished_changes(locked):
            published = _publish_locked(
                locked, user=user, parsed=parsed, choice=in_flight_choice, now=now
            )
    if published:  # saved by _publish_locked, with the name and revision
        _announce(locked)
    elif changed:
        locked.revision += 1
        locked.save()
    return locked


# -- publishing ---------------------------------------------------------------------------


def _check_can_run(parsed: Definition, now: datetime) -> None:
    end_at = parsed.settings.end_at
    if end_at is not None and end_at <= now:
        raise DefinitionInvalid(
            [
                DefinitionError(
                    "settings.end_at",
                    "'end_at' has passed; a journey that has ended cannot be published",
                )
            ]
        )


def _publish_locked(
    journey: Journey, *, user: User, parsed: Definition | None, choice: Any, now: datetime
) -> bool:
    """Publish the locked journey's draft as a new version unless it equals the live one.

    Saves the journey and returns True when a version was written.
    """
    raw = journey_definition(journey)
    if parsed is None:
        parsed = _parse(raw, project_id=journey.project_id, journey_id=journey.pk)
    _check_can_run(parsed, now)
    old = journey.live_version
    if old is not None and not journey_has_unpublished_changes(journey):
        return False
    d = in_flight.diff(old.definition, raw) if old is not None else None
    choices = in_flight.parse_choices(choice, d) if d is not None else {}
    last = JourneyVersion.objects.filter(journey=journey).aggregate(n=Max("number"))["n"] or 0
    version = JourneyVersion.objects.create(
        journey=journey, number=last + 1, definition=raw, created_by_id=_user_id(user)
    )
    if old is not None and d is not None:
        record = in_flight.apply(
            journey=journey, old=old, new=version, d=d, choices=choices, now=now
        )
        # Written once, in the transaction that creates the version: no one sees it change.
        JourneyVersion.objects.filter(pk=version.pk).update(in_flight=record)
        version.in_flight = record
    old_entry_type = (old.definition.get("entry") or {}).get("type") if old else None
    journey.live_version = version
    journey.published_at = now
    journey.start_at = parsed.settings.start_at
    journey.end_at = parsed.settings.end_at
    if journey.status in (S.DRAFT, S.LIVE, S.SCHEDULED):
        journey.set_status(_running_status(journey.start_at, now), now)
    if parsed.entry.type == "past_behaviour":
        # Evaluated at the start and every 24 hours after; the ticker reads this column.
        if journey.next_entry_check_at is None or old_entry_type != "past_behaviour":
            journey.next_entry_check_at = max(journey.start_at or now, now)
    else:
        journey.next_entry_check_at = None
    journey.revision += 1
    journey.save()
    return True


@transaction.atomic
def journey_publish(*, journey: Journey, user: User, in_flight_choice: Any = None) -> Journey:
    """Validate the draft and publish it as version n+1.

    A draft becomes ``scheduled`` if ``settings.start_at`` is in the future, else ``live``;
    a live or scheduled journey is re-evaluated the same way, a paused one stays paused.
    ``start_at``/``end_at`` are copied onto the journey. Users in flight on the previous
    version are handled by ``in_flight_choice`` (see ``builder.in_flight``). A stopped
    journey cannot be published (TransitionRefused).

    On retry: when the draft already equals the live version nothing happens (no-op).
    """
    locked = _lock(journey)
    if locked.status == S.STOPPED:
        raise _refuse(locked, "A stopped journey cannot be published; duplicate it instead.")
    if _publish_locked(locked, user=user, parsed=None, choice=in_flight_choice, now=timezone.now()):
        _announce(locked)
    return locked


# -- lifecycle ----------------------------------------------------------------------------


@transaction.atomic
def journey_pause(*, journey: Journey, user: User) -> Journey:
    """live/scheduled -> paused: no new entries; users in flight keep their place.

    On retry: pausing a paused journey changes nothing (200); draft/stopped are refused.
    """
    locked = _lock(journey)
    if locked.status == S.PAUSED:
        return locked
    if locked.status not in (S.LIVE, S.SCHEDULED):
        raise _refuse(locked, f"A {locked.status} journey cannot be paused.")
    locked.set_status(S.PAUSED, timezone.now())
    locked.revision += 1
    locked.save()
    _announce(locked)
    return locked


@transaction.atomic
def journey_resume(*, journey: Journey, user: User) -> Journey:
    """paused -> live, or scheduled while its start_at is still in the future.

    On retry: resuming a live or scheduled journey changes nothing (200); draft/stopped
    are refused.
    """
    locked = _lock(journey)
    if locked.status in (S.LIVE, S.SCHEDULED):
        return locked
    if locked.status != S.PAUSED:
        raise _refuse(locked, f"A {locked.status} journey cannot be resumed.")
    now = timezone.now()
    locked.set_status(_running_status(locked.start_at, now), now)
    locked.revision += 1
    locked.save()
    _announce(locked)
    return locked


def exit_everyone(*, journey: Journey, reason: str, now: datetime) -> dict[str, int]:
    """Exit every active enrollment of the journey (all versions) where it stands, with a
    Step for the block it leaves, and cancel the candidates; set-based."""
    # The engine writes enrollments and steps; the builder asks it to.
    exited = engine_in_flight.enrollments_exit(journey_id=journey.pk, reason=reason, now=now)
    cancelled = engine_in_flight.candidates_cancel(journey_id=journey.pk, now=now)
    return {"exited": exited, "cancelled": cancelled}


@transaction.atomic
def journey_stop(*, journey: Journey, user: User) -> Journey:
    """Any published status -> stopped: every user in the journey exits (reason ``stopped``,
    at the block they were at), candidates are cancelled. Final.

    On retry: stopping a stopped journey changes nothing (200); a draft is refused.
    """
    locked = _lock(journey)
    if locked.status == S.STOPPED:
        return locked
    if locked.status == S.DRAFT:
        raise _refuse(locked, "A draft has not been published; delete it instead.")
    now = timezone.now()
    exit_everyone(journey=locked, reason=Enrollment.ExitReason.STOPPED, now=now)
    locked.set_status(S.STOPPED, now)
    locked.stopped_at = now
    locked.next_entry_check_at = None
    locked.revision += 1
    locked.save()
    _announce(locked)
    return locked


@transaction.atomic
def journey_delete(*, journey: Journey, user: User) -> None:
    """Delete a draft or a stopped journey with its versions and history.

    On retry: the journey is gone, so the caller gets NotFound from the selector.
    """
    locked = _lock(journey)
    if locked.status not in (S.DRAFT, S.STOPPED):
        raise _refuse(locked, f"A {locked.status} journey cannot be deleted; stop it first.")
    # Versions are PROTECTed by the journey's live_version and by enrollments: remove
    # those references first (a stopped journey's history goes with it).
    engine_in_flight.enrollments_delete(journey_id=locked.pk)
    Journey.objects.filter(pk=locked.pk).update(live_version=None)
    locked.live_version = None
    locked.delete()


# -- copies -------------------------------------------------------------------------------


@transaction.atomic
def journey_duplicate(*, journey: Journey, user: User) -> Journey:
    """A new draft "<name> (copy)" in the same project with the working definition.

    On retry: another copy is created.
    """
    name = journey.name[: NAME_MAX - len(COPY_SUFFIX)] + COPY_SUFFIX
    definition = journey_definition(journey)
    return Journey.objects.create(
        project_id=journey.project_id,
        name=name,
        definition=definition,
        definition_text=_dump(definition),
        created_by_id=_user_id(user),
    )


def journey_export(*, journey: Journey) -> dict[str, Any]:
    """The portable document of the working definition: ``{"format", "name", "definition"}``."""
    return {
        "format": EXPORT_FORMAT,
        "name": journey.name,
        "definition": journey_definition(journey),
    }


@transaction.atomic
def journey_import(*, project: Project, user: User, document: Mapping[str, Any]) -> Journey:
    """Validate an exported document and create a draft from it in ``project``.

    Journey Trigger references are checked against ``project`` (ids of another install
    do not carry over). On retry: another draft is created.
    """
    if document.get("format") != EXPORT_FORMAT:
        raise ImportInvalid("format", f"Only '{EXPORT_FORMAT}' documents can be imported.")
    name = document.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
        raise ImportInvalid("name", f"A name of 1 to {NAME_MAX} characters is required.")
    if "definition" not in document:
        raise ImportInvalid("definition", "This field is required.")
    return journey_create(
        project=project, user=user, name=name.strip(), definition=document["definition"]
    )
