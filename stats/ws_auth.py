"""Who a websocket belongs to: an API token in ``?token=``, else the session cookie.

Sits inside ``AuthMiddlewareStack`` (which has already put the session's user in
``scope["user"]``). A ``token`` parameter always wins: a wrong one makes the socket
anonymous, it never falls back to the session. The session is only trusted when the
handshake comes from this site (no ``Origin``, or one matching ``Host`` or
``CSRF_TRUSTED_ORIGINS``), the websocket counterpart of Django's CSRF origin check: a
cookie alone must not let another site read a marketer's figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from accounts.selectors import token_get_active

__all__ = ["TokenAuthMiddleware", "session_origin_ok", "token_from", "user_for_token"]


def _header(scope: Mapping[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def token_from(scope: Mapping[str, Any]) -> str | None:
    """The ``token`` query parameter ("" when given empty), None when absent."""
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    values = parse_qs(query, keep_blank_values=True).get("token")
    return values[-1] if values else None


def session_origin_ok(scope: Mapping[str, Any]) -> bool:
    origin = _header(scope, b"origin")
    if origin is None:  # not a browser: a cross-site page cannot open it
        return True
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    host = _header(scope, b"host")
    return host is not None and urlsplit(origin).netloc.lower() == host.lower()


@database_sync_to_async
def user_for_token(key: str) -> AbstractBaseUser | AnonymousUser:
    """The active user the API token belongs to (unexpired, unrevoked), else anonymous,
    as the API's token authentication decides."""
    token = token_get_active(key)
    if token is None:
        return AnonymousUser()
    return token.user


class TokenAuthMiddleware(BaseMiddleware):
    """Puts the token's user (or the session's, when allowed) in ``scope["user"]``."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        scope = dict(scope)
        key = token_from(scope)
        if key is not None:
            scope["user"] = await user_for_token(key)
        elif "user" not in scope or not session_origin_ok(scope):
            scope["user"] = AnonymousUser()
        return await self.inner(scope, receive, send)
