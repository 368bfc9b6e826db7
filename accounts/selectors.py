"""Reads of accounts: who a token belongs to, a user's tokens, a project's invitations."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import ApiToken, Invitation
from accounts.services import hash_secret
from engine.models import Membership, Project
from engine.selectors import Forbidden, NotFound, membership_get


def token_get_active(raw: str) -> ApiToken | None:
    """The token with this secret if it is unrevoked, unexpired and its user active."""
    if not raw:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_secret(raw), revoked_at=None, expires_at__gt=timezone.now())
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    return token


def tokens_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[ApiToken]:
    """The user's tokens that still work, newest first."""
    if not user.is_authenticated:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(
        user_id=user.pk, revoked_at=None, expires_at__gt=timezone.now()
    ).order_by("-created_at", "-id")


def token_get_for_user(*, user: AbstractBaseUser | AnonymousUser, token_id: int) -> ApiToken:
    """One of the caller's own tokens; NotFound for anyone else's (they look the same)."""
    token = ApiToken.objects.filter(pk=token_id, user_id=user.pk or 0).first()
    if token is None:
        raise NotFound("token")
    return token


def admin_membership_get(*, user: AbstractBaseUser | AnonymousUser, project_id: int) -> Membership:
    """The caller's membership, which must be an admin's (NotFound / Forbidden otherwise)."""
    membership = membership_get(user=user, project_id=project_id)
    if membership.role != Membership.Role.ADMIN:
        raise Forbidden("Only a project admin can manage members.")
    return membership


def invitations_pending(*, project: Project) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        project=project, accepted_at=None, revoked_at=None, expires_at__gt=timezone.now()
    ).order_by("created_at", "id")


def invitation_get_for_admin(*, project: Project, invitation_id: int) -> Invitation:
    invitation = Invitation.objects.filter(project=project, pk=invitation_id).first()
    if invitation is None:
        raise NotFound("invitation")
    return invitation


def invitation_get_for_invitee(
    *, user: AbstractBaseUser | AnonymousUser, raw_token: str
) -> Invitation:
    """The pending invitation behind a link, if it is addressed to the signed-in user.

    An unknown, spent, expired or revoked link, and one meant for someone else, are all
    NotFound: the link tells nothing to whoever holds it but its addressee.
    """
    if not user.is_authenticated or not raw_token or len(raw_token) > 200:
        raise NotFound("invitation")
    invitation = (
        Invitation.objects.select_related("project", "invited_by")
        .filter(token_hash=hash_secret(raw_token))
        .first()
    )
    if (
        invitation is None
        or not invitation.is_pending
        or invitation.username != user.get_username()
    ):
        raise NotFound("invitation")
    return invitation


def project_members(*, project: Project) -> QuerySet[Membership]:
    return Membership.objects.filter(project=project).select_related("user").order_by("id")
