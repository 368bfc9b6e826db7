"""Marketer endpoints for projects and their members, and the auth token endpoint."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors as accounts_selectors
from accounts import services as accounts_services
from accounts.api import invitation_body
from accounts.lockout import lockout_message
from accounts.services import token_issue
from engine import selectors, services
from engine.models import Membership, Project
from journeys_site import errors


class ProjectSerializer(serializers.ModelSerializer[Project]):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "timezone",
            "ingest_key",
            "sdk_key",
            "ingest_key_seen_in_browser_at",
            "identity_verification",
            "created_at",
            "role",
        ]
        read_only_fields = [
            "id",
            "ingest_key",
            "sdk_key",
            "ingest_key_seen_in_browser_at",
            "created_at",
            "role",
        ]

    def get_role(self, project: Project) -> str | None:
        return self.context.get("roles", {}).get(project.pk)


class ProjectCreateSerializer(serializers.Serializer[Project]):
    name = serializers.CharField(max_length=200)
    timezone = serializers.CharField(max_length=64, default="UTC")


class ProjectListView(APIView):
    @extend_schema(responses=ProjectSerializer(many=True), operation_id="projects_list")
    def get(self, request: Request) -> Response:
        projects = selectors.projects_for_user(user=request.user)
        roles = dict(
            Membership.objects.filter(project__in=projects)
            .filter(user_id=request.user.pk or 0)
            .values_list("project_id", "role")
        )
        return Response(ProjectSerializer(projects, many=True, context={"roles": roles}).data)

    @extend_schema(
        request=ProjectCreateSerializer,
        responses={201: ProjectSerializer},
        operation_id="projects_create",
    )
    def post(self, request: Request) -> Response:
        data = ProjectCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # A ProjectError is answered 400 {field: [message]} by journeys_site/errors.py.
        project = services.project_create(
            name=data.validated_data["name"],
            timezone_name=data.validated_data["timezone"],
            owner=request.user,  # type: ignore[arg-type]
        )
        body = ProjectSerializer(project, context={"roles": {project.pk: "admin"}}).data
        return Response(body, status=status.HTTP_201_CREATED)


class ProjectDetailView(APIView):
    @extend_schema(responses=ProjectSerializer, operation_id="projects_retrieve")
    def get(self, request: Request, project_id: int) -> Response:
        membership = selectors.membership_get(user=request.user, project_id=project_id)
        return Response(
            ProjectSerializer(
                membership.project, context={"roles": {project_id: membership.role}}
            ).data
        )


class KeyRotateSerializer(serializers.Serializer[Project]):
    key = serializers.ChoiceField(
        choices=[("ingest", "the server key"), ("sdk", "the public SDK key")],
        help_text="Which key to replace: `ingest` (server) or `sdk` (web pages)",
    )


class ProjectKeyRotateView(APIView):
    @extend_schema(
        request=KeyRotateSerializer,
        responses={200: ProjectSerializer},
        operation_id="project_key_rotate",
        description="Replace the project's `ingest` or `sdk` key (admins only). The old key answers "
        "401 from then on. Not idempotent: each call gives a new key.",
    )
    def post(self, request: Request, project_id: int) -> Response:
        membership = selectors.membership_get(user=request.user, project_id=project_id)
        if membership.role != Membership.Role.ADMIN:
            raise selectors.Forbidden("Only a project admin can rotate keys.")
        data = KeyRotateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_rotate_key(
            project=membership.project, kind=data.validated_data["key"]
        )
        return Response(ProjectSerializer(project, context={"roles": {project_id: "admin"}}).data)


class MemberSerializer(serializers.Serializer[Membership]):
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class MemberInvitedSerializer(serializers.Serializer[Membership]):
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    status = serializers.ChoiceField(
        choices=["invited", "member"],
        help_text="`invited`: an invitation was made; `member`: an existing member's role changed.",
    )
    invitation = serializers.DictField(
        required=False,
        help_text='With `invited`: {"id", "username", "role", "created_at", "expires_at", '
        '"accept_url", "token"}; send accept_url to the invitee (shown only here).',
    )


class ProjectMembersView(APIView):
    @extend_schema(responses=MemberSerializer(many=True), operation_id="project_members_list")
    def get(self, request: Request, project_id: int) -> Response:
        selectors.membership_get(user=request.user, project_id=project_id)
        rows = (
            Membership.objects.filter(project_id=project_id).select_related("user").order_by("id")
        )
        return Response([{"username": m.user.get_username(), "role": m.role} for m in rows])

    @extend_schema(
        request=MemberSerializer,
        responses={201: MemberInvitedSerializer},
        operation_id="project_members_add",
        description="Invite a user (admins only): they become a member only when they accept "
        "the invitation (docs/api.md). The answer is the same whether or not the username "
        "exists. An existing member's role is changed at once (status `member`).",
    )
    def post(self, request: Request, project_id: int) -> Response:
        """Invite a member, or change an existing member's role (admins only)."""
        membership = selectors.membership_get(user=request.user, project_id=project_id)
        if membership.role != Membership.Role.ADMIN:
            raise selectors.Forbidden("Only a project admin can manage members.")
        data = MemberSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        username, role = data.validated_data["username"], data.validated_data["role"]
        # An InvitationError is answered 400 {field: [message]} by journeys_site/errors.py.
        existing = (
            accounts_selectors.project_members(project=membership.project)
            .filter(user__username=username)
            .first()
        )
        if existing is not None:
            accounts_services.member_role_set(membership=existing, role=role)
            return Response(
                {"username": username, "role": role, "status": "member"},
                status=status.HTTP_201_CREATED,
            )
        invitation, raw = accounts_services.invitation_create(
            project=membership.project,
            username=username,
            role=role,
            invited_by=request.user,  # type: ignore[arg-type]
        )
        invitation_data = invitation_body(invitation, raw, request)
        accounts_services.invitation_notify_later(
            invitation=invitation, link=invitation_data["accept_url"]
        )
        body = {
            "username": invitation.username,
            "role": invitation.role,
            "status": "invited",
            "invitation": invitation_data,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class TokenRequestSerializer(serializers.Serializer[object]):
    username = serializers.CharField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    name = serializers.CharField(
        max_length=100, required=False, default="", help_text="A label to tell your tokens apart."
    )


class TokenView(APIView):
    """POST {"username", "password"} -> {"token", "expires_at"}: a new expiring token."""

    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: inline_serializer(
                "Token",
                {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()},
            ),
            429: inline_serializer("SignInLocked", {"detail": serializers.CharField()}),
        },
        operation_id="auth_token",
    )
    def post(self, request: Request) -> Response:
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # The Django request, so django-axes counts the attempt and can lock it out.
        user = authenticate(
            request._request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None:
            if getattr(request._request, "axes_locked_out", False):
                return errors.response(429, errors.detail(lockout_message()))
            return errors.response(
                status.HTTP_400_BAD_REQUEST,
                errors.field("non_field_errors", "Unable to log in with provided credentials."),
            )
        # A sign-in like the web one: last_login is set and django-axes clears the failures.
        user_logged_in.send(sender=user.__class__, request=request._request, user=user)
        token, raw = token_issue(user=user, name=data.validated_data["name"])
        return Response({"token": raw, "expires_at": token.expires_at})
