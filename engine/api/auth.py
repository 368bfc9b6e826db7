"""Ingest authentication: ``Authorization: Bearer <key>`` with the server key or the public SDK key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from engine.models import Project
from engine.selectors import project_by_key

SERVER = "server"
SDK = "sdk"
# How often a browser's use of the server key is written down (for the settings warning).
_SEEN_EVERY = timedelta(hours=1)


class IngestClient:
    """The 'user' of an ingest request: the project, and which of its keys was presented.

    ``key_kind`` is ``server`` (the ingest key: trusted, every ingest endpoint) or ``sdk``
    (the public key of web pages: limited as CONTRACT.md "Keys and identity" says).
    """

    is_authenticated = True

    def __init__(self, project: Project, key_kind: str = SERVER) -> None:
        self.project = project
        self.key_kind = key_kind

    @property
    def is_sdk(self) -> bool:
        return self.key_kind == SDK


def _note_server_key_in_browser(request: Request, project: Project) -> None:
    """A browser (it sends Origin) presented the server key: remember it, at most hourly."""
    if not request.META.get("HTTP_ORIGIN"):
        return
    now = timezone.now()
    seen = project.ingest_key_seen_in_browser_at
    if seen is None or now - seen > _SEEN_EVERY:
        Project.objects.filter(pk=project.pk).update(ingest_key_seen_in_browser_at=now)
        project.ingest_key_seen_in_browser_at = now


class IngestKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[IngestClient, str]:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            raise exceptions.NotAuthenticated(
                "Send the project's key as 'Authorization: Bearer <ingest_key or sdk_key>'."
            )
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            key = header[1].decode()
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Malformed ingest key.") from exc
        found = project_by_key(key)
        if found is None:
            raise exceptions.AuthenticationFailed(
                "Unknown key: it may have been rotated; copy the current one from the project's settings."
            )
        project, kind = found
        if kind == SERVER:
            _note_server_key_in_browser(request, project)
        return IngestClient(project, kind), key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="ingest"'


class IngestKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[misc]
    target_class = "engine.api.auth.IngestKeyAuthentication"
    name = "ingestKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The project's server key (ingest_key) or, where allowed, its public sdk_key",
        }


class HasIngestKey(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, IngestClient)
