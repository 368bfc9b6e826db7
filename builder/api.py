"""Marketer endpoints for journeys: CRUD, lifecycle, versions, preview, export/import, palette."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder import selectors, services
from builder.models import Journey, JourneyVersion
from engine.domain import FILTER_OPS, VALUE_FILTER_OPS, palette
from engine.selectors import project_get_for_user

# -- serializers --------------------------------------------------------------------------


class JourneySerializer(serializers.ModelSerializer[Journey]):
    project = serializers.IntegerField(source="project_id", read_only=True)
    version = serializers.SerializerMethodField(
        help_text="Number of the version the shown definition is, or will be once published"
    )
    live_version = serializers.SerializerMethodField(help_text="Number of the live version")
    has_unpublished_changes = serializers.SerializerMethodField()
    definition = serializers.SerializerMethodField(help_text="The working definition, as sent")

    class Meta:
        model = Journey
        fields = [
            "id",
            "project",
            "name",
            "status",
            "version",
            "live_version",
            "has_unpublished_changes",
            "definition",
            "start_at",
            "end_at",
            "revision",
            "created_at",
            "updated_at",
            "published_at",
            "stopped_at",
        ]
        read_only_fields = fields

    def get_version(self, journey: Journey) -> int:
        return selectors.journey_version_number(journey)

    def get_live_version(self, journey: Journey) -> int | None:
        return journey.live_version.number if journey.live_version else None

    def get_has_unpublished_changes(self, journey: Journey) -> bool:
        return selectors.journey_has_unpublished_changes(journey)

    def get_definition(self, journey: Journey) -> dict[str, Any]:
        definition: dict[str, Any] = selectors.journey_definition(journey)
        return definition


class JourneyCreateSerializer(serializers.Serializer[Any]):
    project = serializers.IntegerField(min_value=1)
    name = serializers.CharField(max_length=services.NAME_MAX)
    definition = serializers.JSONField()


class InFlightField(serializers.JSONField):
    """``{"<block>": {"action": "keep"} | {"action": "move", "to": "<block>"} | {"action": "exit"}}``"""


class JourneyUpdateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=services.NAME_MAX)
    definition = serializers.JSONField()
    in_flight = InFlightField(
        required=False,
        help_text="What happens to users at changed or removed blocks (default keep)",
    )
    revision = serializers.IntegerField(
        required=False, min_value=0, help_text="Refuse the edit if the journey changed since"
    )


class PublishSerializer(serializers.Serializer[Any]):
    in_flight = InFlightField(required=False)


class PreviewSerializer(serializers.Serializer[Any]):
    definition = serializers.JSONField()


class ImportSerializer(serializers.Serializer[Any]):
    project = serializers.IntegerField(min_value=1)
    format = serializers.ChoiceField(choices=[services.EXPORT_FORMAT])
    name = serializers.CharField(max_length=services.NAME_MAX)
    definition = serializers.JSONField()


class ExportSerializer(serializers.Serializer[Any]):
    format = serializers.CharField()
    name = serializers.CharField()
    definition = serializers.JSONField()


class VersionSerializer(serializers.ModelSerializer[JourneyVersion]):
    created_by = serializers.SerializerMethodField()
    is_live = serializers.SerializerMethodField()

    class Meta:
        model = JourneyVersion
        fields = ["number", "created_at", "created_by", "is_live", "in_flight"]
        read_only_fields = fields

    def get_created_by(self, version: JourneyVersion) -> str | None:
        return version.created_by.get_username() if version.created_by else None

    def get_is_live(self, version: JourneyVersion) -> bool:
        return bool(self.context.get("live_id") == version.pk)


class VersionDetailSerializer(VersionSerializer):
    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "definition"]
        read_only_fields = fields


def _error_item() -> dict[str, Any]:
    return {"path": serializers.CharField(), "message": serializers.CharField()}


PreviewResponse = inline_serializer(
    "JourneyPreview",
    {
        "changes": inline_serializer(
            "JourneyPreviewChange",
            {
                "node": serializers.CharField(),
                "change": serializers.ChoiceField(choices=["changed", "removed"]),
                "users": serializers.IntegerField(),
                "options": serializers.ListField(child=serializers.CharField()),
                "default": serializers.CharField(),
            },
            many=True,
        ),
        "unchanged": serializers.ListField(child=serializers.CharField()),
        "added": serializers.ListField(child=serializers.CharField()),
        "candidates": serializers.JSONField(allow_null=True),
        "errors": inline_serializer("DefinitionErrorItem", _error_item(), many=True),
        "from_version": serializers.IntegerField(allow_null=True),
        "to_version": serializers.IntegerField(),
    },
)
Conflict = inline_serializer(
    "JourneyConflict", {"detail": serializers.CharField(), "status": serializers.CharField()}
)
DefinitionErrors = inline_serializer(
    "DefinitionErrors",
    {"definition": inline_serializer("DefinitionErrorEntry", _error_item(), many=True)},
)


# -- views --------------------------------------------------------------------------------


def _body(journey: Journey) -> dict[str, Any]:
    return dict(JourneySerializer(journey).data)


def _reload(journey: Journey) -> Journey:
    """The journey with its live version, as the response shows it."""
    return Journey.objects.select_related("live_version").get(pk=journey.pk)


_WRITE_ERRORS = {400: DefinitionErrors, 403: None, 404: None, 409: Conflict}


class JourneyListView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("project", OpenApiTypes.INT, description="Only this project")],
        responses={200: JourneySerializer(many=True), 404: None},
        operation_id="journeys_list",
    )
    def get(self, request: Request) -> Response:
        """The caller's journeys, of one project or of all their projects."""
        raw = request.query_params.get("project")
        project_id: int | None = None
        if raw is not None:
            field = serializers.IntegerField(min_value=1)
            try:
                project_id = field.run_validation(raw)
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"project": exc.detail}) from exc
        journeys = selectors.journeys_for_user(user=request.user, project_id=project_id)
        return Response(JourneySerializer(journeys, many=True).data)

    @extend_schema(
        request=JourneyCreateSerializer,
        responses={201: JourneySerializer, 400: DefinitionErrors, 403: None, 404: None},
        operation_id="journeys_create",
    )
    def post(self, request: Request) -> Response:
        """Create a draft journey (the definition is fully validated)."""
        data = JourneyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = project_get_for_user(
            user=request.user, project_id=data.validated_data["project"], edit=True
        )
        journey = services.journey_create(
            project=project,
            user=request.user,
            name=data.validated_data["name"],
            definition=data.validated_data["definition"],
        )
        return Response(_body(_reload(journey)), status=status.HTTP_201_CREATED)


class JourneyDetailView(APIView):
    @extend_schema(responses={200: JourneySerializer, 404: None}, operation_id="journeys_retrieve")
    def get(self, request: Request, journey_id: int) -> Response:
        journey = selectors.journey_get_for_user(user=request.user, journey_id=journey_id)
        return Response(_body(journey))

    def _update(self, request: Request, journey_id: int, *, partial: bool) -> Response:
        journey = selectors.journey_get_for_user(
            user=request.user, journey_id=journey_id, edit=True
        )
        data = JourneyUpdateSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        kwargs: dict[str, Any] = {}
        if "definition" in values:
            kwargs["definition"] = values["definition"]
        journey = services.journey_update(
            journey=journey,
            user=request.user,
            name=values.get("name"),
            in_flight_choice=values.get("in_flight"),
            revision=values.get("revision"),
            **kwargs,
        )
        return Response(_body(_reload(journey)))

    @extend_schema(
        request=JourneyUpdateSerializer,
        responses={200: JourneySerializer, **_WRITE_ERRORS},
        operation_id="journeys_update",
    )
    def put(self, request: Request, journey_id: int) -> Response:
        """Replace name and definition; on a published journey a changed definition is
        published at once as a new version."""
        return self._update(request, journey_id, partial=False)

    @extend_schema(
        request=JourneyUpdateSerializer,
        responses={200: JourneySerializer, **_WRITE_ERRORS},
        operation_id="journeys_partial_update",
    )
    def patch(self, request: Request, journey_id: int) -> Response:
        """Change the name and/or the definition (as PUT, fields optional)."""
        return self._update(request, journey_id, partial=True)

    @extend_schema(
        responses={204: None, 403: None, 404: None, 409: Conflict}, operation_id="journeys_destroy"
    )
    def delete(self, request: Request, journey_id: int) -> Response:
        """Delete a draft or stopped journey."""
        journey = selectors.journey_get_for_user(
            user=request.user, journey_id=journey_id, edit=True
        )
        services.journey_delete(journey=journey, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _LifecycleView(APIView):
    def _run(self, request: Request, journey_id: int, action: str) -> Response:
        journey = selectors.journey_get_for_user(
            user=request.user, journey_id=journey_id, edit=True
        )
        if action == "publish":
            data = PublishSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            journey = services.journey_publish(
                journey=journey,
                user=request.user,
                in_flight_choice=data.validated_data.get("in_flight"),
            )
        elif action == "pause":
            journey = services.journey_pause(journey=journey, user=request.user)
        elif action == "resume":
            journey = services.journey_resume(journey=journey, user=request.user)
        else:
            journey = services.journey_stop(journey=journey, user=request.user)
        return Response(_body(_reload(journey)))


class JourneyPublishView(_LifecycleView):
    @extend_schema(
        request=PublishSerializer,
        responses={200: JourneySerializer, **_WRITE_ERRORS},
        operation_id="journeys_publish",
    )
    def post(self, request: Request, journey_id: int) -> Response:
        """Validate and publish the draft as a new version (no-op if it equals the live one)."""
        return self._run(request, journey_id, "publish")


class JourneyPauseView(_LifecycleView):
    @extend_schema(
        request=None,
        responses={200: JourneySerializer, 403: None, 404: None, 409: Conflict},
        operation_id="journeys_pause",
    )
    def post(self, request: Request, journey_id: int) -> Response:
        """live/scheduled -> paused."""
        return self._run(request, journey_id, "pause")


class JourneyResumeView(_LifecycleView):
    @extend_schema(
        request=None,
        responses={200: JourneySerializer, 403: None, 404: None, 409: Conflict},
        operation_id="journeys_resume",
    )
    def post(self, request: Request, journey_id: int) -> Response:
        """paused -> live (or scheduled while start_at is in the future)."""
        return self._run(request, journey_id, "resume")


class JourneyStopView(_LifecycleView):
    @extend_schema(
        request=None,
        responses={200: JourneySerializer, 403: None, 404: None, 409: Conflict},
        operation_id="journeys_stop",
    )
    def post(self, request: Request, journey_id: int) -> Response:
        """Stop for good: everyone in the journey exits."""
        return self._run(request, journey_id, "stop")


class JourneyPreviewView(APIView):
    @extend_schema(
        request=PreviewSerializer,
        responses={200: PreviewResponse, 404: None},
        operation_id="journeys_preview",
    )
    def post(self, request: Request, journey_id: int) -> Response:
        """What publishing this definition would do to users in flight; changes nothing."""
        journey = selectors.journey_get_for_user(user=request.user, journey_id=journey_id)
        data = PreviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            selectors.journey_preview(journey=journey, definition=data.validated_data["definition"])
        )


class JourneyVersionsView(APIView):
    @extend_schema(
        responses={200: VersionSerializer(many=True), 404: None},
        operation_id="journeys_versions_list",
    )
    def get(self, request: Request, journey_id: int) -> Response:
        journey = selectors.journey_get_for_user(user=request.user, journey_id=journey_id)
        versions = selectors.journey_versions(journey=journey).select_related("created_by")
        context = {"live_id": journey.live_version_id}
        return Response(VersionSerializer(versions, many=True, context=context).data)


class JourneyVersionDetailView(APIView):
    @extend_schema(
        responses={200: VersionDetailSerializer, 404: None},
        operation_id="journeys_versions_retrieve",
    )
    def get(self, request: Request, journey_id: int, number: int) -> Response:
        journey = selectors.journey_get_for_user(user=request.user, journey_id=journey_id)
        version = selectors.journey_version_get(journey=journey, number=number)
        context = {"live_id": journey.live_version_id}
        return Response(VersionDetailSerializer(version, context=context).data)


class JourneyExportView(APIView):
    @extend_schema(responses={200: ExportSerializer, 404: None}, operation_id="journeys_export")
    def get(self, request: Request, journey_id: int) -> Response:
        """A portable document of the working definition, for POST /journeys/import."""
        journey = selectors.journey_get_for_user(user=request.user, journey_id=journey_id)
        return Response(services.journey_export(journey=journey))


class JourneyImportView(APIView):
    @extend_schema(
        request=ImportSerializer,
        responses={201: JourneySerializer, 400: DefinitionErrors, 403: None, 404: None},
        operation_id="journeys_import",
    )
    def post(self, request: Request) -> Response:
        """Create a draft in ``project`` from an exported document."""
        data = ImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = project_get_for_user(
            user=request.user, project_id=data.validated_data["project"], edit=True
        )
        journey = services.journey_import(
            project=project, user=request.user, document=data.validated_data
        )
        return Response(_body(_reload(journey)), status=status.HTTP_201_CREATED)


class JourneyDuplicateView(APIView):
    @extend_schema(
        request=None,
        responses={201: JourneySerializer, 403: None, 404: None},
        operation_id="journeys_duplicate",
    )
    def post(self, request: Request, journey_id: int) -> Response:
        """A new draft "<name> (copy)" with the same working definition."""
        journey = selectors.journey_get_for_user(
            user=request.user, journey_id=journey_id, edit=True
        )
        copy = services.journey_duplicate(journey=journey, user=request.user)
        return Response(_body(_reload(copy)), status=status.HTTP_201_CREATED)


class BlockPaletteView(APIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "BlockPalette",
                {
                    "blocks": serializers.ListField(child=serializers.DictField()),
                    "filter_ops": serializers.ListField(child=serializers.CharField()),
                    "value_filter_ops": serializers.ListField(child=serializers.CharField()),
                    "goal_types": serializers.ListField(child=serializers.CharField()),
                },
            )
        },
        operation_id="blocks_list",
    )
    def get(self, request: Request) -> Response:
        """Every block type, its fields and where it may go, from the domain registry."""
        return Response(
            {
                "blocks": palette(),
                "filter_ops": list(FILTER_OPS),
                "value_filter_ops": list(VALUE_FILTER_OPS),
                "goal_types": ["action", "past_behaviour"],
            }
        )
