"""Marketer endpoint for a project's frequency caps and quiet hours (engine/limits.py)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from engine import limits, selectors
from engine.models import Membership
from journeys_site import errors


class PeriodCapsSerializer(serializers.Serializer[object]):
    day = serializers.IntegerField(
        min_value=1, max_value=limits.MAX_CAP, allow_null=True, required=False
    )
    week = serializers.IntegerField(
        min_value=1, max_value=limits.MAX_CAP, allow_null=True, required=False
    )


class QuietHoursSerializer(serializers.Serializer[object]):
    start = serializers.CharField(help_text="24-hour local time, e.g. `21:00`")
    end = serializers.CharField(help_text="24-hour local time, e.g. `08:00` (next morning)")


class LimitsSerializer(serializers.Serializer[object]):
    """The shape of the limits (documentation; validation is engine/limits.py's)."""

    frequency_caps = serializers.DictField(
        child=PeriodCapsSerializer(),
        help_text="Per channel (`email`, `sms`, `push`, `web_push`, `in_app`): at most "
        "`day` / `week` messages per user, across all journeys. Omitted or null: no cap.",
    )
    quiet_hours = QuietHoursSerializer(
        allow_null=True,
        help_text="A window of the user's local time (their time zone, else the "
        "project's) when email, SMS and push wait or are skipped (per block); null: none.",
    )


EXAMPLE = {
    "frequency_caps": {"email": {"day": 3, "week": 10}, "sms": {"day": 1}},
    "quiet_hours": {"start": "21:00", "end": "08:00"},
}
ERRORS = OpenApiExample(
    "Bad input",
    value={"frequency_caps.email.day": ["must be a whole number from 1 to 1000, not 0"]},
    response_only=True,
    status_codes=["400"],
)


class ProjectLimitsView(APIView):
    @extend_schema(
        responses=LimitsSerializer,
        operation_id="project_limits_retrieve",
        examples=[OpenApiExample("Limits", value=EXAMPLE)],
    )
    def get(self, request: Request, project_id: int) -> Response:
        membership = selectors.membership_get(user=request.user, project_id=project_id)
        return Response(limits.limits_get(membership.project).as_dict())

    def _write(self, request: Request, project_id: int, *, partial: bool) -> Response:
        membership = selectors.membership_get(user=request.user, project_id=project_id)
        if membership.role != Membership.Role.ADMIN:
            raise selectors.Forbidden("Only a project admin can change limits.")
        body = request.data
        if not isinstance(body, dict):
            return errors.response(
                status.HTTP_400_BAD_REQUEST,
                errors.field("non_field_errors", 'Send an object like {"frequency_caps": {...}}'),
            )
        unknown = sorted(set(body) - {"frequency_caps", "quiet_hours"})
        if unknown:
            why = "is not a field of limits; use frequency_caps and quiet_hours"
            return errors.response(
                status.HTTP_400_BAD_REQUEST, errors.fields(dict.fromkeys(unknown, why))
            )
        keep = ... if partial else None
        try:
            stored = limits.limits_set(
                project=membership.project,
                frequency_caps=body.get("frequency_caps", keep),
                quiet_hours=body.get("quiet_hours", keep),
            )
        except limits.LimitsInvalid as exc:
            return errors.response(status.HTTP_400_BAD_REQUEST, errors.fields(exc.errors))
        return Response(stored.as_dict())

    @extend_schema(
        request=LimitsSerializer,
        responses={200: LimitsSerializer},
        operation_id="project_limits_update",
        description="Replace the project's limits (admins only); a part left out is removed. "
        "Bad input: 400 with each bad field's path, e.g. `frequency_caps.email.day`.",
        examples=[OpenApiExample("Limits", value=EXAMPLE), ERRORS],
    )
    def put(self, request: Request, project_id: int) -> Response:
        return self._write(request, project_id, partial=False)

    @extend_schema(
        request=LimitsSerializer,
        responses={200: LimitsSerializer},
        operation_id="project_limits_partial_update",
        description="Change part of the project's limits (admins only); a part left out "
        "is kept. Bad input: 400 with each bad field's path.",
        examples=[OpenApiExample("Quiet hours off", value={"quiet_hours": None}), ERRORS],
    )
    def patch(self, request: Request, project_id: int) -> Response:
        return self._write(request, project_id, partial=True)
