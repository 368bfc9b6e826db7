"""A profile's subscription status per channel, for the customer's servers (ingest key)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from engine import consent
from engine.api.ingest import ERRORS, IngestView
from engine.ingest import IngestError, error
from engine.models import Profile, ProfileAlias, Project

STATUS = inline_serializer(
    "ChannelSubscription",
    {
        "status": serializers.ChoiceField(choices=consent.STATUSES),
        "changed_at": serializers.DateTimeField(allow_null=True),
        "source": serializers.CharField(allow_null=True),
    },
)
SUBSCRIPTIONS = inline_serializer(
    "ProfileSubscriptions",
    {
        "profile_id": serializers.CharField(),
        "subscriptions": serializers.DictField(child=STATUS),
    },
)


def _profile(project: Project, external_id: str) -> Profile:
    profile = Profile.objects.filter(project=project, external_id=external_id).first()
    if profile is None:
        alias = ProfileAlias.objects.filter(project=project, alias=external_id).first()
        profile = alias.profile if alias is not None else None
    if profile is None:
        raise IngestError([error(None, "profile_id", f"No profile {external_id!r}.")], status=404)
    return profile


def _answer(profile: Profile) -> Response:
    return Response(
        {
            "profile_id": profile.external_id,
            "subscriptions": {s.channel: s.as_dict() for s in consent.subscriptions_of(profile)},
        }
    )


class ProfileSubscriptionsView(IngestView):
    """Server key only: the public SDK key may neither read nor change consent."""

    def _server_project(self, request: Request) -> Project:
        client = self.client(request)
        if client.is_sdk:
            raise IngestError(
                [error(None, None, "Subscriptions need the server key (ingest_key).")], status=403
            )
        return client.project

    @extend_schema(
        operation_id="profile_subscriptions",
        responses={200: SUBSCRIPTIONS, 401: ERRORS, 403: ERRORS, 404: ERRORS},
        description="The profile's status for each channel people can unsubscribe from "
        "(email, sms, push, web_push, in_app): `subscribed` unless it unsubscribed, with when "
        "and how it last changed (`api`, `unsubscribe_link`, `one_click`).",
    )
    def get(self, request: Request, profile_id: str) -> Response:
        return _answer(_profile(self._server_project(request), profile_id))

    @extend_schema(
        operation_id="profile_subscriptions_update",
        request=inline_serializer(
            "SubscriptionsUpdate",
            {
                channel: serializers.ChoiceField(choices=consent.STATUSES, required=False)
                for channel in consent.CHANNELS
            },
        ),
        responses={200: SUBSCRIPTIONS, 400: ERRORS, 401: ERRORS, 403: ERRORS, 404: ERRORS},
        examples=[
            OpenApiExample(
                "Unsubscribe from email",
                value={"email": "unsubscribed", "sms": "subscribed"},
                request_only=True,
            )
        ],
        description="Set the status of the channels sent (the others are left alone): "
        '`{"email": "unsubscribed"}`. A message on a channel the profile unsubscribed from '
        "is skipped when it is about to be sent. Also settable as `subscriptions` in "
        "`POST /api/v1/profiles`.",
    )
    def patch(self, request: Request, profile_id: str) -> Response:
        project = self._server_project(request)
        wanted, problem = consent.parse_subscriptions(self.payload(request))
        if problem:
            raise IngestError([error(None, "subscriptions", problem)])
        profile = _profile(project, profile_id)
        for channel, subscribed in wanted.items():
            consent.subscription_set(
                profile_id=profile.pk,
                channel=channel,
                subscribed=subscribed,
                source=consent.SOURCE_API,
            )
        return _answer(profile)
