"""Web push endpoints for the SDK: the project's VAPID public key, and browser subscriptions."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from engine.api.ingest import ERRORS, IngestView
from engine.channels.web_push import MAX_SUBSCRIPTIONS, endpoint_problem, project_vapid_keys
from engine.ingest import IngestError, error, storable_json
from engine.models import Profile, ProfileAlias, Project
from engine.services import identity_verified

MAX_ENDPOINT = 2048
UNSTORABLE = "The body holds NaN, Infinity, a NUL character or invalid Unicode."


def _b64url(value: Any, field: str, *, size: int | None = None) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise IngestError([error(None, field, "Expected a base64url string.")])
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise IngestError([error(None, field, "Expected a base64url string.")]) from exc
    if size is not None and len(raw) != size:
        raise IngestError([error(None, field, f"Expected {size} bytes, got {len(raw)}.")])
    return value


def _profile(project: Project, payload: dict[str, Any], sdk: bool) -> Profile:
    """The profile named by ``profile_id`` (aliases followed), checked as the SDK key requires."""
    profile_id = payload.get("profile_id")
    if not isinstance(profile_id, str) or not profile_id.strip() or len(profile_id) > 255:
        raise IngestError(
            [error(None, "profile_id", "Expected the profile id (1-255 characters).")]
        )
    profile = Profile.objects.filter(project=project, external_id=profile_id).first()
    if profile is None:
        alias = ProfileAlias.objects.filter(project=project, alias=profile_id).first()
        profile = alias.profile if alias is not None else None
    if profile is None:
        raise IngestError(
            [error(None, "profile_id", f"No profile {profile_id!r}: identify it first.")],
            status=404,
        )
    user_hash = payload.get("user_hash")
    if (
        sdk
        and project.identity_verification
        and not getattr(profile, "anonymous", False)
        and not identity_verified(
            project, profile.external_id, user_hash if isinstance(user_hash, str) else None
        )
    ):
        raise IngestError(
            [
                error(
                    None,
                    "user_hash",
                    "Identity verification is on: send user_hash = hex HMAC-SHA256(project "
                    "secret, profile id) to store a subscription on an identified profile.",
                )
            ],
            status=403,
        )
    return profile


class WebPushKeyView(IngestView):
    @extend_schema(
        operation_id="web_push_key",
        responses={
            200: inline_serializer("WebPushKey", {"vapid_public_key": serializers.CharField()}),
            401: ERRORS,
        },
        description="The project's VAPID public key (made on first use): the browser's "
        "applicationServerKey for pushManager.subscribe().",
    )
    def get(self, request: Request) -> Response:
        public, _ = project_vapid_keys(self.project(request).pk)
        return Response({"vapid_public_key": public})


class WebPushSubscriptionsView(IngestView):
    @extend_schema(
        operation_id="web_push_subscribe",
        request=inline_serializer(
            "WebPushSubscribe",
            {
                "profile_id": serializers.CharField(),
                "user_hash": serializers.CharField(required=False),
                "subscription": serializers.DictField(),
            },
        ),
        responses={
            201: inline_serializer("WebPushStored", {"stored": serializers.BooleanField()}),
            400: ERRORS,
            401: ERRORS,
            403: ERRORS,
            404: ERRORS,
        },
        description="Store the browser's PushSubscription (its toJSON()) on the profile.",
    )
    def post(self, request: Request) -> Response:
        payload = self.payload(request)
        if not isinstance(payload, dict):
            raise IngestError([error(None, None, "Expected a JSON object.")])
        if not storable_json(payload):
            raise IngestError([error(None, None, UNSTORABLE)])
        project = self.project(request)
        subscription = payload.get("subscription")
        if not isinstance(subscription, dict):
            raise IngestError([error(None, "subscription", "Expected the PushSubscription JSON.")])
        endpoint = subscription.get("endpoint")
        if not isinstance(endpoint, str) or not endpoint or len(endpoint) > MAX_ENDPOINT:
            raise IngestError([error(None, "subscription.endpoint", "Expected a URL.")])
        problem = endpoint_problem(endpoint)
        if problem:
            raise IngestError([error(None, "subscription.endpoint", f"Refused: {problem}.")])
        keys = subscription.get("keys")
        if not isinstance(keys, dict):
            raise IngestError([error(None, "subscription.keys", "Expected {p256dh, auth}.")])
        p256dh = _b64url(keys.get("p256dh"), "subscription.keys.p256dh", size=65)
        auth = _b64url(keys.get("auth"), "subscription.keys.auth", size=16)
        profile = _profile(project, payload, self.client(request).is_sdk)
        entry = {
            "platform": "web",
            "token": endpoint,
            "keys": {"p256dh": p256dh, "auth": auth},
            "subscribed_at": timezone.now().isoformat(),
        }
        with transaction.atomic():
            locked = Profile.objects.select_for_update().get(pk=profile.pk)
            others = [
                t
                for t in (locked.push_tokens or [])
                if not (isinstance(t, dict) and t.get("token") == endpoint)
            ]
            web = [t for t in others if isinstance(t, dict) and t.get("platform") == "web"]
            if len(web) >= MAX_SUBSCRIPTIONS:  # the oldest browsers give way
                drop = {id(t) for t in web[: len(web) - MAX_SUBSCRIPTIONS + 1]}
                others = [t for t in others if id(t) not in drop]
            locked.push_tokens = [*others, entry]
            locked.save(update_fields=["push_tokens", "updated_at"])
        return Response({"stored": True}, status=201)

    @extend_schema(
        operation_id="web_push_unsubscribe",
        request=inline_serializer(
            "WebPushUnsubscribe",
            {
                "profile_id": serializers.CharField(),
                "user_hash": serializers.CharField(required=False),
                "endpoint": serializers.CharField(),
            },
        ),
        responses={
            200: inline_serializer("WebPushRemoved", {"removed": serializers.BooleanField()})
        },
    )
    def delete(self, request: Request) -> Response:
        from engine.channels.web_push import subscription_remove

        payload = self.payload(request)
        if not isinstance(payload, dict) or not isinstance(payload.get("endpoint"), str):
            raise IngestError([error(None, "endpoint", "Expected the subscription's endpoint.")])
        if not storable_json(payload):
            raise IngestError([error(None, None, UNSTORABLE)])
        profile = _profile(self.project(request), payload, self.client(request).is_sdk)
        return Response({"removed": subscription_remove(profile.pk, payload["endpoint"])})
