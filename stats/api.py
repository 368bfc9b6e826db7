"""Stats endpoints: occupancy, attribution stats, profile timeline and the message log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder.selectors import journey_get_for_user
from engine.models import Message
from stats import selectors
from stats.frames import Frame, frame_from_params

# -- response shapes (for the schema) -------------------------------------------------------

_int = serializers.IntegerField


def _maybe_int() -> serializers.IntegerField:
    return serializers.IntegerField(
        allow_null=True, help_text="null when the attribution table says it is not available"
    )


OccupancyResponse = inline_serializer(
    "Occupancy",
    {
        "nodes": serializers.DictField(child=_int(), help_text="Users at each block now"),
        "total": _int(),
    },
)
StatsSummary = inline_serializer(
    "StatsSummary",
    {
        "entry": _int(),
        "goal_met": _maybe_int(),
        "time_out": _maybe_int(),
        "completed": _maybe_int(),
        "conversion_pct": serializers.FloatField(),
    },
)
StatsNode = inline_serializer(
    "StatsNode",
    {
        "entered": _int(),
        "current": _int(help_text="Users at the block now (not time-framed)"),
        "goal_met": _maybe_int(),
        "time_out": _maybe_int(),
        "completed": _maybe_int(),
        "yes": _int(allow_null=True, help_text="Segment blocks only"),
        "no": _int(allow_null=True, help_text="Segment blocks only"),
    },
)
StatsResponse = inline_serializer(
    "JourneyStats",
    {"summary": StatsSummary, "nodes": serializers.DictField(child=StatsNode)},
)
TimelineMessage = inline_serializer(
    "TimelineMessage",
    {
        "id": _int(),
        "channel": serializers.CharField(),
        "status": serializers.ChoiceField(choices=Message.Status.values),
        "attempts": _int(),
        "error": serializers.CharField(),
        "sent_at": serializers.DateTimeField(allow_null=True),
    },
    allow_null=True,
)
TimelineStep = inline_serializer(
    "TimelineStep",
    {
        "node": serializers.CharField(),
        "type": serializers.CharField(allow_null=True),
        "version": _int(),
        "entered_at": serializers.DateTimeField(allow_null=True),
        "left_at": serializers.DateTimeField(allow_null=True),
        "path": serializers.CharField(
            allow_null=True, help_text="next, yes, no, exit or moved; null at the current block"
        ),
        "why": serializers.JSONField(help_text="What the condition saw, or why the user left"),
        "message": TimelineMessage,
        "current": serializers.BooleanField(help_text="The block the user is at now"),
    },
    many=True,
)
TimelineResponse = inline_serializer(
    "ProfileTimeline",
    {
        "profile_id": serializers.CharField(),
        "journeys": inline_serializer(
            "TimelineJourney",
            {
                "journey": _int(),
                "name": serializers.CharField(),
                "version": _int(),
                "state": serializers.CharField(),
                "entry_number": _int(),
                "entered_at": serializers.DateTimeField(allow_null=True),
                "exited_at": serializers.DateTimeField(allow_null=True),
                "exit_reason": serializers.CharField(allow_null=True),
                "exit_node": serializers.CharField(allow_null=True),
                "current_node": serializers.CharField(allow_null=True),
                "steps": TimelineStep,
            },
            many=True,
        ),
    },
)


class MessageSerializer(serializers.ModelSerializer[Message]):
    profile_id = serializers.CharField(source="profile.external_id", read_only=True)
    rendered = serializers.JSONField(read_only=True)
    held = serializers.SerializerMethodField(
        help_text="Why it waited, if it was held for the project's quiet hours "
        '("held for quiet hours until 2026-12-04 08:00 America/New_York ..."), else ""'
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "node",
            "profile_id",
            "channel",
            "status",
            "attempts",
            "rendered",
            "error",
            "held",
            "created_at",
            "sent_at",
            "next_attempt_at",
        ]
        read_only_fields = fields

    def get_held(self, message: Message) -> str:
        return str((message.delivery or {}).get("held", ""))


MessagesResponse = inline_serializer(
    "MessagePage",
    {
        "results": MessageSerializer(many=True),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
    },
)


# -- helpers --------------------------------------------------------------------------------


def _frame(request: Request) -> Frame:
    # A FrameInvalid is answered 400 {field: [message]} by journeys_site/errors.py.
    return frame_from_params(request.query_params)


def _param(request: Request, name: str, field: serializers.Field[Any, Any, Any, Any]) -> Any:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return field.run_validation(raw)
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({name: exc.detail}) from exc


FRAME_PARAMS = [
    OpenApiParameter(
        "from",
        OpenApiTypes.DATETIME,
        description="Start of the time frame (inclusive, ISO 8601); default: all time",
    ),
    OpenApiParameter(
        "to",
        OpenApiTypes.DATETIME,
        description="End of the time frame (exclusive; a bare date includes that day)",
    ),
]


# -- views ----------------------------------------------------------------------------------


class OccupancyView(APIView):
    @extend_schema(
        responses={200: OccupancyResponse, 401: None, 404: None},
        operation_id="journeys_occupancy",
    )
    def get(self, request: Request, journey_id: int) -> Response:
        """Users in the journey now, by the block they are at (every version)."""
        journey = journey_get_for_user(user=request.user, journey_id=journey_id)
        return Response(selectors.journey_occupancy(journey=journey))


class StatsView(APIView):
    @extend_schema(
        parameters=FRAME_PARAMS,
        responses={200: StatsResponse, 400: None, 401: None, 404: None},
        operation_id="journeys_stats",
    )
    def get(self, request: Request, journey_id: int) -> Response:
        """Entry, exits by reason and per-block figures over a time frame (docs/stats.md)."""
        journey = journey_get_for_user(user=request.user, journey_id=journey_id)
        return Response(selectors.journey_stats(journey=journey, frame=_frame(request)))


class TimelineView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("project", OpenApiTypes.INT, required=True, description="Project id")
        ],
        responses={200: TimelineResponse, 400: None, 401: None, 404: None},
        operation_id="profiles_timeline",
    )
    def get(self, request: Request, profile_id: str) -> Response:
        """Every journey step of a profile (external id or alias), newest stay first."""
        project_id = _param(request, "project", serializers.IntegerField(min_value=1))
        if project_id is None:
            raise serializers.ValidationError({"project": ["This parameter is required."]})
        return Response(
            selectors.profile_timeline(
                user=request.user, project_id=project_id, external_id=profile_id
            )
        )


class MessagePagination(CursorPagination):
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000
    ordering = "-id"

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {"results": data, "next": self.get_next_link(), "previous": self.get_previous_link()}
        )


class MessagesView(APIView):
    pagination_class = MessagePagination

    @extend_schema(
        parameters=[
            OpenApiParameter("profile_id", OpenApiTypes.STR, description="External id or alias"),
            OpenApiParameter("node", OpenApiTypes.STR, description="Block id"),
            OpenApiParameter("status", OpenApiTypes.STR, enum=Message.Status.values),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description="Page size (100, at most 1000)"
            ),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="From a 'next' link"),
        ],
        responses={200: MessagesResponse, 400: None, 401: None, 404: None},
        operation_id="journeys_messages",
    )
    def get(self, request: Request, journey_id: int) -> Response:
        """The messages the journey produced, newest first, a page at a time."""
        journey = journey_get_for_user(user=request.user, journey_id=journey_id)
        status = _param(request, "status", serializers.ChoiceField(choices=Message.Status.values))
        qs = selectors.journey_messages(
            journey=journey,
            profile_id=request.query_params.get("profile_id") or None,
            node=request.query_params.get("node") or None,
            status=status,
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        assert page is not None
        return paginator.get_paginated_response(MessageSerializer(page, many=True).data)


# -- the journey report: header, chart and stuck users --------------------------------------

SummaryResponse = inline_serializer(
    "JourneySummary",
    {
        "entry": _int(),
        "goal_met": _maybe_int(),
        "time_out": _maybe_int(),
        "completed": _maybe_int(),
        "conversion_pct": serializers.FloatField(),
        "conversion": serializers.ChoiceField(
            choices=["goal_met", "completed"], help_text="Which exit Conversion % counts"
        ),
    },
)
SeriesResponse = inline_serializer(
    "JourneySeries",
    {
        "conversion": serializers.ChoiceField(choices=["goal_met", "completed"]),
        "days": inline_serializer(
            "JourneySeriesDay",
            {"day": serializers.DateField(), "entries": _int(), "conversions": _int()},
            many=True,
        ),
    },
)
StuckResponse = inline_serializer(
    "JourneyStuck",
    {
        "as_of": serializers.DateTimeField(),
        "grace_seconds": _int(),
        "conversion_time_seconds": _int(allow_null=True),
        "total_stuck": _int(),
        "nodes": serializers.DictField(
            child=inline_serializer(
                "StuckNode",
                {
                    "waiting": _int(help_text="Users at the block now"),
                    "stuck": _int(help_text="Of them, waiting longer than the block takes"),
                    "parked": _int(help_text="At the end of a path, waiting for goal/time-out"),
                    "quarantined": _int(),
                    "longest_wait_seconds": _int(allow_null=True),
                    "expected_seconds": _int(
                        allow_null=True, help_text="What the block should take; null: no limit"
                    ),
                },
            )
        ),
        "node": serializers.CharField(required=False),
        "profiles": inline_serializer(
            "StuckProfile",
            {
                "profile_id": serializers.CharField(),
                "since": serializers.DateTimeField(allow_null=True),
                "waited_seconds": _int(allow_null=True),
                "state": serializers.CharField(),
            },
            many=True,
            required=False,
        ),
    },
)


class SummaryView(APIView):
    @extend_schema(
        parameters=FRAME_PARAMS,
        responses={200: SummaryResponse, 400: None, 401: None, 404: None},
        operation_id="journeys_summary",
    )
    def get(self, request: Request, journey_id: int) -> Response:
        """The canvas header: Entry, Goal Met or Completed, Time Out, Conversion %."""
        journey = journey_get_for_user(user=request.user, journey_id=journey_id)
        return Response(selectors.journey_summary(journey=journey, frame=_frame(request)))


class SeriesView(APIView):
    @extend_schema(
        parameters=FRAME_PARAMS,
        responses={200: SeriesResponse, 400: None, 401: None, 404: None},
        operation_id="journeys_series",
    )
    def get(self, request: Request, journey_id: int) -> Response:
        """Entries and conversions per day (project time zone) over a time frame."""
        journey = journey_get_for_user(user=request.user, journey_id=journey_id)
        frame = _frame(request)
        if frame.start is None:
            frame = Frame(timezone.now() - timedelta(days=30), frame.end)
        return Response(selectors.journey_series(journey=journey, frame=frame))


class StuckView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("node", OpenApiTypes.STR, description="A block: list its stuck users")
        ],
        responses={200: StuckResponse, 400: None, 401: None, 404: None},
        operation_id="journeys_stuck",
    )
    def get(self, request: Request, journey_id: int) -> Response:
        """Per block, users waiting now against what the block should take (docs/stats.md)."""
        journey = journey_get_for_user(user=request.user, journey_id=journey_id)
        node = request.query_params.get("node") or None
        if node is not None and len(node) > 64:
            raise serializers.ValidationError({"node": ["At most 64 characters."]})
        return Response(selectors.journey_stuck(journey=journey, node=node))
