"""Template tags for the members section: a project's members and pending invitations."""

from __future__ import annotations

from django import template
from django.db.models import QuerySet

from accounts import selectors
from accounts.models import Invitation
from engine.models import Membership, Project

register = template.Library()


@register.simple_tag
def project_members(project: Project | None) -> QuerySet[Membership] | list[Membership]:
    return selectors.project_members(project=project) if project is not None else []


@register.simple_tag
def project_invitations(project: Project | None) -> QuerySet[Invitation] | list[Invitation]:
    return selectors.invitations_pending(project=project) if project is not None else []


@register.simple_tag
def member_roles() -> list[tuple[str, str]]:
    return list(Membership.Role.choices)
