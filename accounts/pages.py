"""Pages of accounts: the invitation link page and the member controls the settings page posts to."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from engine.models import Membership
from engine.selectors import Forbidden, NotFound

# The session key the pages use for the project being worked on (builder/context.py).
CURRENT_PROJECT_SESSION_KEY = "current_project_id"


def _admin(request: HttpRequest) -> Membership:
    """The caller's admin membership of the project named in the form's ``project`` field."""
    try:
        project_id = int(request.POST.get("project", ""))
    except ValueError:
        raise Http404("No such project.") from None
    try:
        return selectors.admin_membership_get(user=request.user, project_id=project_id)
    except NotFound:
        raise Http404("No such project.") from None
    except Forbidden as exc:
        raise PermissionDenied(str(exc)) from None


def _settings_url() -> str:
    return reverse("project-settings") + "#members"


@login_required
@require_http_methods(["GET", "POST"])
def invitation_page(request: HttpRequest, token: str) -> HttpResponse:
    """Shows the invitation to its addressee; the Accept button makes them a member."""
    try:
        invitation = selectors.invitation_get_for_invitee(user=request.user, raw_token=token)
    except NotFound:
        return render(request, "accounts/invitation_invalid.html", status=404)
    if request.method == "POST":
        try:
            membership = services.invitation_accept(invitation=invitation, user=request.user)  # type: ignore[arg-type]
        except services.InvitationError:
            return render(request, "accounts/invitation_invalid.html", status=404)
        request.session[CURRENT_PROJECT_SESSION_KEY] = membership.project_id
        messages.success(
            request,
            f"You joined {invitation.project.name} as {membership.get_role_display().lower()}.",
        )
        return redirect("/")
    return render(request, "accounts/invitation.html", {"invitation": invitation})


@login_required
@require_POST
def member_invite(request: HttpRequest) -> HttpResponse:
    membership = _admin(request)
    username = request.POST.get("username", "")
    role = request.POST.get("role", Membership.Role.EDITOR)
    try:
        invitation, raw = services.invitation_create(
            project=membership.project,
            username=username,
            role=role,
            invited_by=request.user,  # type: ignore[arg-type]
        )
    except services.InvitationError as exc:
        messages.error(request, exc.message)
        return redirect(_settings_url())
    link = request.build_absolute_uri(reverse("invitation-page", args=[raw]))
    services.invitation_notify_later(invitation=invitation, link=link)
    messages.success(
        request,
        f"Invitation for {username.strip()} created. If they have an account with an email "
        f"address it was emailed to them; you can also send them this link (shown only once): "
        f"{link}",
    )
    return redirect(_settings_url())


@login_required
@require_POST
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    admin = _admin(request)
    member = selectors.project_members(project=admin.project).filter(pk=membership_id).first()
    if member is None:
        raise Http404("No such member.")
    try:
        services.member_role_set(membership=member, role=request.POST.get("role", ""))
    except services.InvitationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{member.user.get_username()} is now {member.role}.")
    return redirect(_settings_url())


@login_required
@require_POST
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    admin = _admin(request)
    member = selectors.project_members(project=admin.project).filter(pk=membership_id).first()
    if member is None:
        raise Http404("No such member.")
    try:
        services.member_remove(membership=member)
    except services.InvitationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{member.user.get_username()} was removed from the project.")
    return redirect(_settings_url())


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    admin = _admin(request)
    try:
        invitation = selectors.invitation_get_for_admin(
            project=admin.project, invitation_id=invitation_id
        )
    except NotFound:
        raise Http404("No such invitation.") from None
    services.invitation_revoke(invitation=invitation)
    messages.success(request, f"Invitation for {invitation.username} revoked.")
    return redirect(_settings_url())
