"""Reads of the engine's data, with the permission checks that go with them."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

from engine.models import Membership, Project


class NotFound(LookupError):
    """The object does not exist or the caller may not see it (the two look the same)."""


class Forbidden(PermissionError):
    """The caller sees the object but may not do this to it."""


def projects_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    return Project.objects.filter(memberships__user_id=user.pk).order_by("id")


def membership_get(*, user: AbstractBaseUser | AnonymousUser, project_id: int) -> Membership:
    """The caller's membership of a project; NotFound if they are not a member."""
    if not user.is_authenticated:
        raise NotFound("project")
    membership = (
        Membership.objects.select_related("project")
        .filter(user_id=user.pk, project_id=project_id)
        .first()
    )
    if membership is None:
        raise NotFound("project")
    return membership


def project_get_for_user(
    *, user: AbstractBaseUser | AnonymousUser, project_id: int, edit: bool = False
) -> Project:
    membership = membership_get(user=user, project_id=project_id)
    if edit and not membership.can_edit:
        raise Forbidden("Viewers cannot change this project.")
    return membership.project


def project_by_ingest_key(key: str) -> Project | None:
    """The project whose server key this is (the SDK key does not count)."""
    if not key:
        return None
    return Project.objects.filter(ingest_key=key).first()


def project_by_key(key: str) -> tuple[Project, str] | None:
    """The project and the kind of key (``server`` or ``sdk``) presented, or None."""
    if not key:
        return None
    project = Project.objects.filter(Q(ingest_key=key) | Q(sdk_key=key)).first()
    if project is None:
        return None
    return project, ("server" if project.ingest_key == key else "sdk")
