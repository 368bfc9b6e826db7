"""Writes of accounts: issuing and revoking API tokens, inviting, accepting and revoking."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ApiToken, Invitation
from engine.models import Membership, Project

TOKEN_PREFIX_LENGTH = 8


class InvitationError(ValueError):
    """A request about an invitation that cannot be honoured, with the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def hash_secret(raw: str) -> str:
    """SHA-256 hex of a token: the secrets are long and random, so no salt or stretching."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def token_issue(*, user: AbstractBaseUser, name: str = "") -> tuple[ApiToken, str]:
    """A new token for ``user`` and its secret (shown once; only its hash is stored)."""
    raw = secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken.objects.create(
        user_id=user.pk,
        key_hash=hash_secret(raw),
        prefix=raw[:TOKEN_PREFIX_LENGTH],
        name=name[:100],
        created_at=now,
        expires_at=now + timedelta(days=settings.JOURNEYS_TOKEN_TTL_DAYS),
    )
    return token, raw


def token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def token_touch(*, token: ApiToken) -> None:
    """Record use, at most once a minute per token (a write per request would be waste)."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def invitation_create(
    *, project: Project, username: str, role: str, invited_by: AbstractBaseUser
) -> tuple[Invitation, str]:
    """A pending invitation for ``username`` and its secret link token.

    Made the same way whether or not the user exists, so the answer tells the inviter
    nothing about who has an account. An earlier pending invitation of the same name to the
    same project is revoked (only the newest link works).
    """
    username = username.strip()
    if not username or len(username) > 150:
        raise InvitationError("username", "Give a username of 1 to 150 characters.")
    if role not in Membership.Role.values:
        raise InvitationError("role", f"{role!r} is not a role: admin, editor or viewer.")
    now = timezone.now()
    raw = secrets.token_urlsafe(32)
    with transaction.atomic():
        Invitation.objects.filter(
            project=project, username=username, accepted_at=None, revoked_at=None
        ).update(revoked_at=now)
        invitation = Invitation.objects.create(
            project=project,
            username=username,
            role=role,
            token_hash=hash_secret(raw),
            invited_by_id=invited_by.pk,
            created_at=now,
            expires_at=now + timedelta(days=settings.JOURNEYS_INVITATION_TTL_DAYS),
        )
    return invitation, raw


def invitation_notify_later(*, invitation: Invitation, link: str) -> None:
    """Email the link after commit, from the worker: the inviter's answer takes the same
    time whether or not the username has an account (or an email address)."""
    from accounts.tasks import send_invitation_email

    transaction.on_commit(lambda: send_invitation_email.delay(invitation.pk, link))


def invitation_notify(*, invitation_id: int, link: str) -> bool:
    """Send the invitation link to the invitee's email, if the username has an active
    account with one and the invitation is still pending. True when a mail went out."""
    invitation = (
        Invitation.objects.select_related("project", "invited_by").filter(pk=invitation_id).first()
    )
    if invitation is None or not invitation.is_pending:
        return False
    user = (
        get_user_model()
        .objects.filter(username=invitation.username, is_active=True)
        .exclude(email="")
        .first()
    )
    if user is None:
        return False
    inviter = invitation.invited_by.get_username() if invitation.invited_by else "A project admin"
    send_mail(
        subject=f"Join {invitation.project.name} on Journeys",
        message=(
            f"{inviter} invited you to join {invitation.project.name} as "
            f"{invitation.get_role_display().lower()}.\n\n"
            f"Open this link, signed in as {invitation.username}, and press Accept:\n{link}\n\n"
            f"The invitation expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC. "
            "If you did not expect it, ignore this email."
        ),
        from_email=None,
        recipient_list=[user.email],
    )
    return True


def invitation_revoke(*, invitation: Invitation) -> Invitation:
    if invitation.revoked_at is None and invitation.accepted_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
    return invitation


def invitation_accept(*, invitation: Invitation, user: AbstractBaseUser) -> Membership:
    """Make ``user`` a member with the invited role; the invitation is spent.

    The caller has checked that the invitation is pending and addressed to ``user``.
    """
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not locked.is_pending:
            raise InvitationError("invitation", "This invitation is no longer valid.")
        try:
            with transaction.atomic():
                membership, created = Membership.objects.get_or_create(
                    project_id=locked.project_id, user_id=user.pk, defaults={"role": locked.role}
                )
        except IntegrityError:  # a concurrent accept made the row
            membership = Membership.objects.get(project_id=locked.project_id, user_id=user.pk)
            created = False
        if not created and membership.role != locked.role:
            membership.role = locked.role
            membership.save(update_fields=["role"])
        locked.accepted_at = timezone.now()
        locked.save(update_fields=["accepted_at"])
    invitation.accepted_at = locked.accepted_at
    return membership


def member_role_set(*, membership: Membership, role: str) -> Membership:
    """Change an existing member's role; the last admin cannot stop being one."""
    if role not in Membership.Role.values:
        raise InvitationError("role", f"{role!r} is not a role: admin, editor or viewer.")
    if membership.role == Membership.Role.ADMIN and role != Membership.Role.ADMIN:
        _ensure_another_admin(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


def member_remove(*, membership: Membership) -> None:
    """Take a member out of a project; the last admin cannot be removed."""
    if membership.role == Membership.Role.ADMIN:
        _ensure_another_admin(membership)
    membership.delete()


def _ensure_another_admin(membership: Membership) -> None:
    others = (
        Membership.objects.filter(project_id=membership.project_id, role=Membership.Role.ADMIN)
        .exclude(pk=membership.pk)
        .exists()
    )
    if not others:
        raise InvitationError("username", "A project keeps at least one admin.")
