"""Template context for every page: the member's current project and the project switcher."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from engine.models import Membership, Project

SESSION_KEY = "current_project_id"


def current_membership(request: HttpRequest) -> Membership | None:
    """The signed-in member's membership of the project they are working in: the one chosen
    in the switcher (kept in the session) if they still belong to it, else their first."""
    user = getattr(request, "user", None)  # absent on requests that skipped the middleware
    if user is None or not user.is_authenticated:
        return None
    cached = getattr(request, "_current_membership", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    memberships = Membership.objects.select_related("project").filter(user_id=user.pk)
    session = getattr(request, "session", None)
    chosen = session.get(SESSION_KEY) if session is not None else None
    membership = None
    if chosen is not None:
        membership = memberships.filter(project_id=chosen).first()
    if membership is None:
        membership = memberships.order_by("project_id").first()
    request._current_membership = membership  # type: ignore[attr-defined]
    return membership


def current_project(request: HttpRequest) -> dict[str, Any]:
    """``current_project``, ``current_membership``, ``can_edit``, ``is_project_admin`` and
    ``member_projects`` (for the switcher) for templates."""
    membership = current_membership(request)
    if membership is None:
        return {
            "current_project": None,
            "current_membership": None,
            "can_edit": False,
            "is_project_admin": False,
            "member_projects": [],
        }
    projects = list(
        Project.objects.filter(memberships__user=membership.user_id).order_by("name", "id")
    )
    return {
        "current_project": membership.project,
        "current_membership": membership,
        "can_edit": membership.can_edit,
        "is_project_admin": membership.role == Membership.Role.ADMIN,
        "member_projects": projects,
    }
