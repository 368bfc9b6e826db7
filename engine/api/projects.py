"""Marketer endpoints for projects and their members, and the auth token endpoint."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from engine import selectors, services
from engine.models import Membership, Project


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
        try:
            project = services.project_create(
                name=data.validated_data["name"],
                timezone_name=data.validated_data["timezone"],
                owner=request.user,  # type: ignore[arg-type]
            )
        except services.ProjectError as exc:
            return Response({exc.field: [exc.message]}, status=status.HTTP_400_BAD_REQUEST)
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
        responses={201: MemberSerializer},
        operation_id="project_members_add",
    )
    def post(self, request: Request, project_id: int) -> Response:
        """Add or change a member (admins only)."""
        membership = selectors.membership_get(user=request.user, project_id=project_id)
        if membership.role != Membership.Role.ADMIN:
            raise selectors.Forbidden("Only a project admin can manage members.")
        data = MemberSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = get_user_model().objects.filter(username=data.validated_data["username"]).first()
        if user is None:
            return Response({"username": ["No such user."]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            with transaction.atomic():
                Membership.objects.update_or_create(
                    project_id=project_id, user=user, defaults={"role": data.validated_data["role"]}
                )
        except IntegrityError:  # a concurrent add of the same member; the row exists now
            pass
        return Response(data.validated_data, status=status.HTTP_201_CREATED)


class TokenView(ObtainAuthToken):
    """POST {"username", "password"} -> {"token"}."""

    parser_classes = [JSONParser]

    @extend_schema(
        request=inline_serializer(
            "TokenRequest",
            {"username": serializers.CharField(), "password": serializers.CharField()},
        ),
        responses={200: inline_serializer("Token", {"token": serializers.CharField()})},
        operation_id="auth_token",
    )
    def post(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().post(request, *args, **kwargs)
