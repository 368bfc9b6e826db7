"""Marketer API of accounts: the caller's tokens, a project's invitations, accepting one."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.models import ApiToken, Invitation
from engine.models import Membership
from engine.selectors import NotFound


class ApiTokenSerializer(serializers.ModelSerializer[ApiToken]):
    current = serializers.SerializerMethodField(
        help_text="True for the token this request was made with."
    )

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at", "current"]

    def get_current(self, token: ApiToken) -> bool:
        auth = self.context.get("auth")
        return isinstance(auth, ApiToken) and auth.pk == token.pk


class InvitationSerializer(serializers.ModelSerializer[Invitation]):
    class Meta:
        model = Invitation
        fields = ["id", "username", "role", "created_at", "expires_at"]


class InvitationForInviteeSerializer(serializers.Serializer[Invitation]):
    project = serializers.DictField(help_text='{"id", "name"} of the project.')
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    invited_by = serializers.CharField(allow_null=True)
    expires_at = serializers.DateTimeField()


class AcceptedSerializer(serializers.Serializer[Membership]):
    project = serializers.IntegerField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)


def invitation_body(invitation: Invitation, raw_token: str, request: Request) -> dict[str, Any]:
    """The invitation as its creator sees it, with the link (shown only this once)."""
    return {
        **InvitationSerializer(invitation).data,
        "accept_url": request.build_absolute_uri(reverse("invitation-page", args=[raw_token])),
        "token": raw_token,
    }


class TokenListView(APIView):
    @extend_schema(responses=ApiTokenSerializer(many=True), operation_id="auth_tokens_list")
    def get(self, request: Request) -> Response:
        """The caller's tokens that still work (their secrets are never shown again)."""
        tokens = selectors.tokens_for_user(user=request.user)
        return Response(ApiTokenSerializer(tokens, many=True, context={"auth": request.auth}).data)


class TokenDetailView(APIView):
    @extend_schema(responses={204: None}, operation_id="auth_tokens_revoke")
    def delete(self, request: Request, token_id: int) -> Response:
        """Revoke one of the caller's tokens (the one in use too); someone else's → 404."""
        token = selectors.token_get_for_user(user=request.user, token_id=token_id)
        services.token_revoke(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectInvitationsView(APIView):
    @extend_schema(
        responses=InvitationSerializer(many=True), operation_id="project_invitations_list"
    )
    def get(self, request: Request, project_id: int) -> Response:
        """Pending invitations of the project (admins only)."""
        membership = selectors.admin_membership_get(user=request.user, project_id=project_id)
        pending = selectors.invitations_pending(project=membership.project)
        return Response(InvitationSerializer(pending, many=True).data)


class ProjectInvitationDetailView(APIView):
    @extend_schema(responses={204: None}, operation_id="project_invitations_revoke")
    def delete(self, request: Request, project_id: int, invitation_id: int) -> Response:
        """Revoke an invitation (admins only); its link stops working."""
        membership = selectors.admin_membership_get(user=request.user, project_id=project_id)
        invitation = selectors.invitation_get_for_admin(
            project=membership.project, invitation_id=invitation_id
        )
        services.invitation_revoke(invitation=invitation)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationView(APIView):
    @extend_schema(responses=InvitationForInviteeSerializer, operation_id="invitations_retrieve")
    def get(self, request: Request, token: str) -> Response:
        """The invitation behind a link, for the user it is addressed to (else 404)."""
        invitation = selectors.invitation_get_for_invitee(user=request.user, raw_token=token)
        return Response(
            {
                "project": {"id": invitation.project_id, "name": invitation.project.name},
                "role": invitation.role,
                "invited_by": invitation.invited_by.get_username()
                if invitation.invited_by
                else None,
                "expires_at": invitation.expires_at,
            }
        )


class InvitationAcceptView(APIView):
    @extend_schema(request=None, responses=AcceptedSerializer, operation_id="invitations_accept")
    def post(self, request: Request, token: str) -> Response:
        """Join the project: the signed-in addressee becomes a member with the invited role."""
        invitation = selectors.invitation_get_for_invitee(user=request.user, raw_token=token)
        # An InvitationError is answered 400 {field: [message]} by journeys_site/errors.py.
        membership = services.invitation_accept(invitation=invitation, user=request.user)  # type: ignore[arg-type]
        return Response({"project": membership.project_id, "role": membership.role})


class ProjectMemberDetailView(APIView):
    @extend_schema(responses={204: None}, operation_id="project_members_remove")
    def delete(self, request: Request, project_id: int, username: str) -> Response:
        """Remove a member (admins only); the last admin stays. Not a member → 404."""
        admin = selectors.admin_membership_get(user=request.user, project_id=project_id)
        member = (
            selectors.project_members(project=admin.project).filter(user__username=username).first()
        )
        if member is None:
            raise NotFound("member")
        services.member_remove(membership=member)  # InvitationError: 400 (journeys_site/errors.py)
        return Response(status=status.HTTP_204_NO_CONTENT)
