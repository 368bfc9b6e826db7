"""Small JSON endpoints the canvas needs: name suggestions from stored data, message previews."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Count
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder import selectors
from engine.domain import TemplateError, render
from engine.models import Event, Profile, Project
from engine.outbox import profile_context
from engine.selectors import project_get_for_user

MAX_NAMES = 200
SAMPLE = 500  # recent rows read for property names: enough to suggest, cheap on any table
MAX_TEMPLATES = 20
SAMPLE_PROFILE: dict[str, Any] = {
    "id": "sample-user",
    "email": "ana@example.com",
    "phone": "+15550100",
    "timezone": "UTC",
    "first_name": "Ana",
    "last_name": "Silva",
    "city": "Lisbon",
}

# -- reads --------------------------------------------------------------------------------


def _keys(rows: list[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for properties in rows:
        if isinstance(properties, Mapping):
            for key in properties:
                if isinstance(key, str) and len(seen) < MAX_NAMES:
                    seen.setdefault(key, None)
    return sorted(seen)


def project_suggestions(*, project: Project) -> dict[str, Any]:
    """Event names (most frequent first), each event's property names and the profiles'
    property names, from what the project has received."""
    names = list(
        Event.objects.filter(project=project)
        .values("name")
        .annotate(n=Count("id"))
        .order_by("-n", "name")
        .values_list("name", flat=True)[:MAX_NAMES]
    )
    recent = list(
        Event.objects.filter(project=project)
        .order_by("-id")
        .values_list("name", "properties")[:SAMPLE]
    )
    by_event: dict[str, list[Any]] = {}
    for name, properties in recent:
        by_event.setdefault(name, []).append(properties)
    profile_rows = list(
        Profile.objects.filter(project=project)
        .order_by("-id")
        .values_list("properties", flat=True)[:SAMPLE]
    )
    return {
        "events": names,
        "event_properties": {name: _keys(rows) for name, rows in sorted(by_event.items())},
        "profile_properties": _keys(profile_rows),
    }


def _preview_profile(*, project_id: int, profile_id: str | None) -> tuple[dict[str, Any], bool]:
    """The template context's ``profile`` for ``profile_id``, or a sample one (True)."""
    if profile_id:
        profile = Profile.objects.filter(project_id=project_id, external_id=profile_id).first()
        if profile is None:
            raise serializers.ValidationError(
                {"profile_id": [f"No profile '{profile_id}' in this project."]}
            )
        return profile_context(profile), False
    return {**SAMPLE_PROFILE, "properties": dict(SAMPLE_PROFILE)}, True


def render_templates(
    *,
    project_id: int,
    journey_id: int,
    node: str,
    templates: Mapping[str, str],
    profile_id: str | None,
) -> dict[str, Any]:
    profile, sample = _preview_profile(project_id=project_id, profile_id=profile_id)
    context = {
        "profile": profile,
        "event": {"name": "Sample Event", "properties": {}},
        "journey": {"id": journey_id, "version": 0},
        "node": node,
    }
    rendered: dict[str, str] = {}
    errors: dict[str, str] = {}
    for field, source in templates.items():
        try:
            rendered[field] = render(source, context) if source else ""
        except TemplateError as exc:
            errors[field] = str(exc)
    return {
        "profile_id": profile["id"],
        "sample": sample,
        "rendered": rendered,
        "errors": errors,
    }


# -- views --------------------------------------------------------------------------------


class RenderSerializer(serializers.Serializer[Any]):
    node = serializers.CharField(max_length=64, required=False, default="")
    templates = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=100_000)
    )
    profile_id = serializers.CharField(max_length=255, required=False, allow_blank=True)

    def validate_templates(self, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_TEMPLATES:
            raise serializers.ValidationError(f"At most {MAX_TEMPLATES} templates at once.")
        return value


class ProjectSuggestionsView(APIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "ProjectSuggestions",
                {
                    "events": serializers.ListField(child=serializers.CharField()),
                    "event_properties": serializers.DictField(
                        child=serializers.ListField(child=serializers.CharField())
                    ),
                    "profile_properties": serializers.ListField(child=serializers.CharField()),
                },
            ),
            404: None,
        },
        operation_id="projects_suggestions",
    )
    def get(self, request: Request, project_id: int) -> Response:
        """Names the canvas suggests: events and properties the project has received."""
        project = project_get_for_user(user=request.user, project_id=project_id)
        return Response(project_suggestions(project=project))


class JourneyRenderView(APIView):
    @extend_schema(
        request=RenderSerializer,
        responses={
            200: inline_serializer(
                "MessagePreview",
                {
                    "profile_id": serializers.CharField(),
                    "sample": serializers.BooleanField(),
                    "rendered": serializers.DictField(child=serializers.CharField()),
                    "errors": serializers.DictField(child=serializers.CharField()),
                },
            ),
            400: None,
            404: None,
        },
        operation_id="journeys_render_preview",
    )
    def post(self, request: Request, journey_id: int) -> Response:
        """Render a message block's Liquid templates for a profile of the project (or a
        sample profile); a template that fails is reported by field, the others render."""
        journey = selectors.journey_get_for_user(user=request.user, journey_id=journey_id)
        data = RenderSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        return Response(
            render_templates(
                project_id=journey.project_id,
                journey_id=journey.pk,
                node=values["node"],
                templates=values["templates"],
                profile_id=values.get("profile_id") or None,
            )
        )
