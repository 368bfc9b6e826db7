"""Ingest-key authentication: ``Authorization: Bearer <ingest_key>`` and nothing else."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from engine.models import Project
from engine.selectors import project_by_ingest_key


class IngestClient:
    """The 'user' of an ingest request: the project whose key was presented."""

    is_authenticated = True

    def __init__(self, project: Project) -> None:
        self.project = project


class IngestKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[IngestClient, str]:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            raise exceptions.NotAuthenticated(
                "Send the project's ingest key as 'Authorization: Bearer <ingest_key>'."
            )
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            key = header[1].decode()
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Malformed ingest key.") from exc
        project = project_by_ingest_key(key)
        if project is None:
            raise exceptions.AuthenticationFailed("Unknown ingest key.")
        return IngestClient(project), key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="ingest"'


class IngestKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[misc]
    target_class = "engine.api.auth.IngestKeyAuthentication"
    name = "ingestKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "The project's ingest key"}


class HasIngestKey(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, IngestClient)
