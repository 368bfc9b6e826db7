"""DRF authentication by ``Authorization: Token <token>`` against hashed, expiring tokens."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts import selectors, services
from accounts.models import ApiToken


class ApiTokenAuthentication(BaseAuthentication):
    """Same header as DRF's TokenAuthentication; expired or revoked tokens get a 401."""

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: give 'Token <token>' with no spaces in the token."
            )
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = selectors.token_get_active(raw)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        services.token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Describes the token header in the OpenAPI schema, as DRF's token scheme was."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'An API token from POST /api/v1/auth/token, as "Token <token>". '
            "Tokens expire (expires_at) and can be revoked.",
        }
