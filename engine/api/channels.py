"""Marketer endpoints for a project's channel settings: read, set (admins), test sends.

Secrets are write-only: a request may set one (a string) or clear it (null); no answer
ever contains one, only ``{"set": true, "hint": "ends in …4f2a"}``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from engine import channel_settings, selectors
from engine.channel_settings import ChannelSettingsInvalid
from engine.models import Membership
from journeys_site import errors

SecretState = inline_serializer(
    "ChannelSecretState",
    {
        "set": serializers.BooleanField(),
        "hint": serializers.CharField(help_text='e.g. "ends in …4f2a"; never the secret'),
    },
)
CHANNEL_STATE_FIELDS: dict[str, serializers.Field[Any, Any, Any, Any]] = {
    "channel": serializers.ChoiceField(choices=list(channel_settings.CHANNEL_LABELS)),
    "label": serializers.CharField(),
    "source": serializers.ChoiceField(
        choices=["project", "environment"],
        help_text="`project`: this project's own settings send it; `environment`: the deployment's",
    ),
    "backend": serializers.CharField(help_text="smtp, anymail, twilio, fcm, ... or record"),
    "sending": serializers.BooleanField(help_text="false: messages are only recorded"),
    "hint": serializers.CharField(help_text="What to set so it sends (when not sending)"),
    "test_to": serializers.CharField(help_text="What a test send goes to (empty: none)"),
    "last_test": inline_serializer(
        "ChannelLastTest",
        {
            "at": serializers.DateTimeField(),
            "outcome": serializers.ChoiceField(
                choices=["sent", "recorded", "retry", "failed", "skipped"]
            ),
            "message": serializers.CharField(help_text="What happened, in plain words"),
            "shown": serializers.BooleanField(
                required=False,
                help_text="in_app only: true when an open page showed it at once, false when "
                "it was queued for the profile's next page view",
            ),
        },
        allow_null=True,
        help_text="The latest test send's outcome, when remembered (null: none known)",
    ),
    "settings": serializers.DictField(help_text="The non-secret settings"),
    "secrets": serializers.DictField(
        child=SecretState, help_text="Each secret: whether it is set, never its value"
    ),
    "updated_at": serializers.DateTimeField(allow_null=True),
    "updated_by": serializers.CharField(),
}
ChannelState = inline_serializer("ChannelState", CHANNEL_STATE_FIELDS)
ChannelStates = inline_serializer("ChannelState", CHANNEL_STATE_FIELDS, many=True)
ChannelWrite = inline_serializer(
    "ChannelSettingsWrite",
    {
        name: serializers.JSONField(required=False, help_text=f"{channel}: {f.label}. {f.help}")
        for channel, fields in channel_settings.FIELDS.items()
        for f in fields
        for name in [f.name]
    },
)
TestRequest = inline_serializer(
    "ChannelTestRequest",
    {
        "to": serializers.CharField(
            help_text="email: an email address; sms: a phone number (E.164); push: a device's "
            "FCM token; webhook: an http(s) URL; web_push and in_app: a profile's id, alias "
            "or email"
        )
    },
)
TestAnswer = inline_serializer(
    "ChannelTestResult",
    {
        "outcome": serializers.ChoiceField(
            choices=["sent", "recorded", "retry", "failed", "skipped"]
        ),
        "backend": serializers.CharField(),
        "error": serializers.CharField(),
        "message": serializers.CharField(help_text="What happened, in plain words"),
        "detail": serializers.DictField(
            help_text="Provider facts. web_push: profile, subscriptions, sent_to, removed (gone "
            "subscriptions, 404/410), results; in_app: profile, expires_at, shown (true: handed "
            "to an open page now; false: queued for the profile's next page view)"
        ),
    },
)
BadRequest = inline_serializer(
    "ChannelSettingsInvalid",
    {"<channel>.<field>": serializers.ListField(child=serializers.CharField())},
)
EXAMPLE = OpenApiExample(
    "SMTP",
    value={
        "provider": "smtp",
        "host": "smtp.example.com",
        "port": 587,
        "security": "starttls",
        "username": "mailer",
        "password": "write-only",
        "from_email": "shop@example.com",
    },
    request_only=True,
)


def _invalid(exc: ChannelSettingsInvalid) -> Response:
    return errors.response(status.HTTP_400_BAD_REQUEST, errors.fields(exc.errors))


def _admin(request: Request, project_id: int) -> Membership:
    membership = selectors.membership_get(user=request.user, project_id=project_id)
    if membership.role != Membership.Role.ADMIN:
        raise selectors.Forbidden("Only a project admin can change channel settings.")
    return membership


def _state(membership: Membership, channel: str) -> dict[str, Any] | None:
    for entry in channel_settings.channels_overview(membership.project):
        if entry["channel"] == channel:
            return entry
    return None


def _not_a_channel(channel: str) -> Response:
    known = ", ".join(channel_settings.CHANNEL_LABELS)
    return errors.response(
        status.HTTP_404_NOT_FOUND,
        errors.field("channel", f"{channel!r} is not a channel (known: {known})"),
    )


class ProjectChannelsView(APIView):
    @extend_schema(
        responses={200: ChannelStates},
        operation_id="project_channels_list",
        description="Every channel of the project, who sends it and its settings (any member). "
        "Secrets are never returned.",
    )
    def get(self, request: Request, project_id: int) -> Response:
        membership = selectors.membership_get(user=request.user, project_id=project_id)
        return Response(channel_settings.channels_overview(membership.project))


class ProjectChannelView(APIView):
    @extend_schema(responses={200: ChannelState}, operation_id="project_channel_retrieve")
    def get(self, request: Request, project_id: int, channel: str) -> Response:
        membership = selectors.membership_get(user=request.user, project_id=project_id)
        state = _state(membership, channel)
        return Response(state) if state else _not_a_channel(channel)

    def _write(self, request: Request, project_id: int, channel: str, replace: bool) -> Response:
        membership = _admin(request, project_id)
        if channel not in channel_settings.FIELDS:
            if channel in channel_settings.CHANNEL_LABELS:
                return errors.response(
                    status.HTTP_400_BAD_REQUEST,
                    errors.field("channel", f"{channel} has no settings of its own"),
                )
            return _not_a_channel(channel)
        if not isinstance(request.data, dict):
            return errors.response(
                status.HTTP_400_BAD_REQUEST,
                errors.field("non_field_errors", "expected a JSON object of settings"),
            )
        try:
            channel_settings.channel_settings_write(
                project=membership.project,
                channel=channel,
                data=request.data,
                replace=replace,
                actor=request.user.get_username(),
            )
        except ChannelSettingsInvalid as exc:
            return _invalid(exc)
        return Response(_state(membership, channel))

    @extend_schema(
        request=ChannelWrite,
        responses={200: ChannelState, 400: BadRequest},
        examples=[EXAMPLE],
        operation_id="project_channel_replace",
        description="Set the project's own settings for this channel (admins only); they take "
        "precedence over the deployment's. Settings left out go back to their defaults; a "
        "secret left out (or empty) is kept, `null` clears it.",
    )
    def put(self, request: Request, project_id: int, channel: str) -> Response:
        return self._write(request, project_id, channel, replace=True)

    @extend_schema(
        request=ChannelWrite,
        responses={200: ChannelState, 400: BadRequest},
        operation_id="project_channel_update",
        description="Change only the settings given (admins only). A secret: a string sets "
        "it, `null` clears it.",
    )
    def patch(self, request: Request, project_id: int, channel: str) -> Response:
        return self._write(request, project_id, channel, replace=False)

    @extend_schema(
        responses={200: ChannelState},
        operation_id="project_channel_clear",
        description="Remove the project's own settings (admins only): the deployment's apply again.",
    )
    def delete(self, request: Request, project_id: int, channel: str) -> Response:
        membership = _admin(request, project_id)
        if channel not in channel_settings.FIELDS:
            return _not_a_channel(channel)
        channel_settings.channel_settings_clear(project=membership.project, channel=channel)
        return Response(_state(membership, channel))


class ProjectChannelTestView(APIView):
    @extend_schema(
        request=TestRequest,
        responses={200: TestAnswer, 400: BadRequest},
        operation_id="project_channel_test",
        description="Send a real test message through this channel's provider to `to` (admins "
        "only). web_push goes to every browser subscription of the profile `to` names; in_app "
        "is shown on the profile's open page at once, else on its next page view for an hour. "
        "200 says what happened, sent or not; 400 names what is wrong with `to`.",
    )
    def post(self, request: Request, project_id: int, channel: str) -> Response:
        membership = _admin(request, project_id)
        if channel not in channel_settings.CHANNEL_LABELS:
            return _not_a_channel(channel)
        to = request.data.get("to") if isinstance(request.data, dict) else None
        if not isinstance(to, str):
            return errors.response(
                status.HTTP_400_BAD_REQUEST, errors.field("to", "is required: a string")
            )
        try:
            result = channel_settings.channel_send_test(
                project=membership.project, channel=channel, to=to
            )
        except ChannelSettingsInvalid as exc:
            return _invalid(exc)
        return Response(
            {
                "outcome": result.outcome,
                "backend": result.backend,
                "error": result.error,
                "message": result.sentence,
                "detail": result.detail,
            }
        )
