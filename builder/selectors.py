"""Reads of journeys and versions, with the permission checks that go with them."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as AuthUser
from django.db.models import Count, QuerySet

from builder import in_flight
from builder.models import Journey, JourneyVersion
from engine.domain import ValidationContext, json_equal, validate
from engine.domain.bounds import bounds_errors
from engine.models import Enrollment
from engine.selectors import Forbidden, NotFound, membership_get

__all__ = [
    "Forbidden",
    "NotFound",
    "journey_definition",
    "journey_get_for_user",
    "journey_has_unpublished_changes",
    "journey_occupancy_by_node",
    "journey_preview",
    "journey_validation_context",
    "journey_version_get",
    "journey_version_number",
    "journey_versions",
    "journeys_for_user",
]

User = AuthUser | AnonymousUser


def journey_get_for_user(*, user: User, journey_id: int, edit: bool = False) -> Journey:
    """The journey if the caller is a member of its project (NotFound otherwise, so that a
    journey of someone else's project looks like no journey at all); with ``edit``, viewers
    get Forbidden."""
    if not user.is_authenticated:
        raise NotFound("journey")
    journey = (
        Journey.objects.select_related("live_version", "project")
        .filter(pk=journey_id, project__memberships__user_id=user.pk)
        .first()
    )
    if journey is None:
        raise NotFound("journey")
    if edit:
        membership = membership_get(user=user, project_id=journey.project_id)
        if not membership.can_edit:
            raise Forbidden("Viewers cannot change journeys.")
    return journey


def journeys_for_user(*, user: User, project_id: int | None = None) -> QuerySet[Journey]:
    """The caller's journeys, of one project (NotFound if not a member) or of all of them."""
    if not user.is_authenticated:
        return Journey.objects.none()
    qs = Journey.objects.select_related("live_version").order_by("id")
    if project_id is not None:
        membership_get(user=user, project_id=project_id)
        return qs.filter(project_id=project_id)
    return qs.filter(project__memberships__user_id=user.pk)


def journey_versions(*, journey: Journey) -> QuerySet[JourneyVersion]:
    return JourneyVersion.objects.filter(journey=journey).order_by("number")


def journey_version_get(*, journey: Journey, number: int) -> JourneyVersion:
    version = JourneyVersion.objects.filter(journey=journey, number=number).first()
    if version is None:
        raise NotFound("version")
    return version


def journey_occupancy_by_node(*, journey: Journey, version: JourneyVersion) -> dict[str, int]:
    """Users active in the journey on ``version``, by the block they are at (one query)."""
    rows = (
        Enrollment.objects.filter(journey=journey, version=version, state=Enrollment.State.ACTIVE)
        .order_by()
        .values("node")
        .annotate(users=Count("id"))
        .values_list("node", "users")
    )
    return dict(rows)


def journey_definition(journey: Journey) -> Any:
    """The working definition exactly as it was sent (key order kept), falling back to the
    stored JSON when the text is missing or no longer matches it."""
    if journey.definition_text:
        try:
            parsed = json.loads(journey.definition_text)
        except (ValueError, RecursionError):
            return journey.definition
        if json_equal(parsed, journey.definition):
            return parsed
    return journey.definition


def journey_has_unpublished_changes(journey: Journey) -> bool:
    """True until the journey is published, then whenever its draft differs from the live
    version."""
    live = journey.live_version
    return live is None or not json_equal(live.definition, journey.definition)


def journey_version_number(journey: Journey) -> int:
    """The number of the version the working definition is (or will be once published)."""
    live = journey.live_version
    if live is None:
        return 1
    return live.number + 1 if journey_has_unpublished_changes(journey) else live.number


def journey_validation_context(*, project_id: int, journey_id: int | None) -> ValidationContext:
    """For Journey Trigger: the blocks of ANOTHER journey of the same project (its live
    version if published, else its draft), None for a journey that is not there."""

    def blocks(other_id: str) -> set[str] | None:
        if not other_id.isascii() or not other_id.isdigit() or int(other_id) >= 2**63:
            return None
        other = (
            Journey.objects.select_related("live_version")
            .filter(project_id=project_id, pk=int(other_id))
            .first()
        )
        if other is None or other.pk == journey_id:
            return None
        raw = other.live_version.definition if other.live_version else other.definition
        return set(in_flight.blocks_of(raw))

    return ValidationContext(journey_blocks=blocks, this_journey=journey_id)


def journey_preview(*, journey: Journey, definition: Any) -> dict[str, Any]:
    """What publishing ``definition`` would do to users in flight, and its validation errors.

    Lists each block of the live version that changed or disappeared with the users at it
    now (on the live version) and the choices; nothing is written.
    """
    context = journey_validation_context(project_id=journey.project_id, journey_id=journey.pk)
    bounded = bounds_errors(definition)
    problems = bounded or validate(definition, context=context)
    errors = [e.as_dict() for e in problems]
    live = journey.live_version
    body: dict[str, Any] = {
        "changes": [],
        "unchanged": [],
        "added": [],
        "candidates": None,
        "errors": errors,
        "from_version": live.number if live else None,
        "to_version": journey_version_number(journey) if live is None else live.number + 1,
    }
    if live is None or bounded:  # an out-of-bounds definition is not diffed
        return body
    d = in_flight.diff(live.definition, definition)
    users = journey_occupancy_by_node(journey=journey, version=live)
    options = in_flight.options_for(d)
    body["changes"] = [
        {
            "node": c.node,
            "change": c.change,
            "users": users.get(c.node, 0),
            "options": options,
            "default": in_flight.DEFAULT_ACTION,
        }
        for c in d.changes
    ]
    body["unchanged"] = list(d.unchanged)
    body["added"] = list(d.added)
    waiting = Enrollment.objects.filter(
        journey=journey, version=live, state=Enrollment.State.CANDIDATE
    ).count()
    body["candidates"] = {
        "users": waiting,
        "action": "switch" if d.entry_unchanged else "cancel",
    }
    if json_equal(live.definition, definition):
        body["to_version"] = live.number
    return body
