"""Sign-in throttling backend: django-axes' check, for every sign-in that carries a request."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class ThrottlingBackend(AxesStandaloneBackend):
    """Refuses sign-ins from a locked-out user or address (django-axes).

    The three sign-in doors (token endpoint, /login/, admin login) pass the request, so
    they are throttled. A call without one (the test client's ``login()``, a shell) has
    no address to count and is let through to the next backend instead of failing.
    """

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
