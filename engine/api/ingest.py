"""Ingest endpoints: events, profiles and identify, authenticated by the server or SDK key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from engine import services
from engine.api.auth import HasIngestKey, IngestClient, IngestKeyAuthentication
from engine.ingest import (
    IngestError,
    decode_body,
    error,
    needs_value_check,
    parse_events,
    parse_identify,
    parse_profiles,
)
from journeys_site import errors

ERRORS = inline_serializer(
    "IngestErrors",
    {
        "errors": serializers.ListField(
            child=inline_serializer(
                "IngestError",
                {
                    "index": serializers.IntegerField(allow_null=True),
                    "field": serializers.CharField(allow_null=True),
                    "message": serializers.CharField(),
                },
            )
        )
    },
)


class IngestView(APIView):
    authentication_classes = [IngestKeyAuthentication]
    permission_classes = [HasIngestKey]
    # The body is read and parsed here, so size and JSON errors have the ingest error shape.
    parser_classes: list[Any] = []

    def client(self, request: Request) -> IngestClient:
        client = request.user
        assert isinstance(client, IngestClient)
        return client

    def project(self, request: Request) -> Any:
        return self.client(request).project

    def payload(self, request: Request) -> Any:
        limit = settings.INGEST_MAX_BYTES
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > limit:
            raise IngestError(
                [
                    error(
                        None,
                        None,
                        f"Request body is {declared} bytes; the limit is {limit} bytes (1 MiB). Split the batch.",
                    )
                ],
                status=413,
            )
        return decode_body(request.body, max_bytes=limit)

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        # One error shape for every ingest answer, so SDKs parse a single format.
        return errors.ingest_exception_handler


class EventsIngestView(IngestView):
    @extend_schema(
        operation_id="events_ingest",
        request=inline_serializer(
            "EventsIngest",
            {"events": serializers.ListField(child=serializers.DictField(), max_length=1000)},
        ),
        responses={
            202: inline_serializer(
                "EventsAccepted",
                {"accepted": serializers.IntegerField(), "duplicates": serializers.IntegerField()},
            ),
            400: ERRORS,
            401: ERRORS,
            413: ERRORS,
        },
        examples=[
            OpenApiExample(
                "One event",
                value={
                    "events": [
                        {
                            "id": "7d1c",
                            "profile_id": "u-42",
                            "name": "Added To Cart",
                            "properties": {"price": 120},
                        }
                    ]
                },
                request_only=True,
            )
        ],
        description="Store up to 1,000 events (1 MiB). All or nothing: any invalid event rejects the request. "
        "With the public sdk_key and identity verification on, an event naming an identified profile "
        "carries that profile's `user_hash`, or the request is refused with 403 and nothing is stored. "
        "Events with an `id` already stored for the project count as `duplicates` and are not stored again.",
    )
    def post(self, request: Request) -> Response:
        payload = self.payload(request)
        records = parse_events(
            payload,
            now=timezone.now(),
            max_items=settings.INGEST_MAX_ITEMS,
            deep=needs_value_check(request.body),
        )
        client = self.client(request)
        result = services.events_ingest(
            project=client.project, records=records, via_sdk=client.is_sdk
        )
        return Response(
            {"accepted": result.accepted, "duplicates": result.duplicates},
            status=status.HTTP_202_ACCEPTED,
        )


class ProfilesIngestView(IngestView):
    @extend_schema(
        operation_id="profiles_upsert",
        request=inline_serializer(
            "ProfilesUpsert",
            {"profiles": serializers.ListField(child=serializers.DictField(), max_length=1000)},
        ),
        responses={
            200: inline_serializer(
                "ProfilesUpserted",
                {"created": serializers.IntegerField(), "updated": serializers.IntegerField()},
            ),
            400: ERRORS,
            401: ERRORS,
            413: ERRORS,
        },
        description="Upsert up to 1,000 profiles. With the public sdk_key, an identified profile's "
        "email, phone and push tokens cannot be changed (403), and with identity verification on "
        "each identified profile needs its `user_hash`. `properties` are merged into what is stored "
        "(a key sent as null is removed); fields not sent are left alone.",
    )
    def post(self, request: Request) -> Response:
        records = parse_profiles(self.payload(request), max_items=settings.INGEST_MAX_ITEMS)
        client = self.client(request)
        result = services.profiles_upsert(
            project=client.project, records=records, via_sdk=client.is_sdk
        )
        return Response({"created": result.created, "updated": result.updated})


class IdentifyView(IngestView):
    @extend_schema(
        operation_id="profile_identify",
        request=inline_serializer(
            "Identify",
            {
                "profile_id": serializers.CharField(),
                "anonymous_id": serializers.CharField(required=False),
                "properties": serializers.DictField(required=False),
                "user_hash": serializers.CharField(required=False),
            },
        ),
        responses={
            200: inline_serializer(
                "Identified",
                {
                    "profile_id": serializers.CharField(),
                    "created": serializers.BooleanField(),
                    "merged": serializers.BooleanField(),
                },
            ),
            400: ERRORS,
            401: ERRORS,
            403: ERRORS,
        },
        description="Used by the web SDK: upsert the identified profile and merge the anonymous "
        "profile into it only when that one was never identified and has no email or phone "
        "(through the sdk_key: only a profile the SDK made); otherwise `merged` is false. "
        "visitor's events and properties into it. Idempotent.",
    )
    def post(self, request: Request) -> Response:
        record = parse_identify(self.payload(request))
        client = self.client(request)
        project = client.project
        if project.identity_verification and not services.identity_verified(
            project, record.profile.external_id, record.user_hash
        ):
            raise IngestError(
                [
                    error(
                        None,
                        "user_hash",
                        "Identity verification is on: send user_hash = hex HMAC-SHA256(project secret, profile id).",
                    )
                ],
                status=403,
            )
        result = services.profile_identify(project=project, record=record, via_sdk=client.is_sdk)
        return Response(
            {
                "profile_id": result.profile.external_id,
                "created": result.created,
                "merged": result.merged,
            }
        )
