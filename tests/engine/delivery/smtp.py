"""A real SMTP server (aiosmtpd) on a free local port that takes one user's password; a
deployment with no provider configured."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.engine.delivery.test_email import Inbox, free_port


class AuthInbox(Inbox):
    """Keeps what arrives, and who logged in (``logins``); only ``user``/``password`` may."""

    def __init__(self, user: str, password: str) -> None:
        super().__init__()
        self.user, self.password = user, password
        self.logins: list[str] = []
        self.port = 0

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if (login, password) == (self.user, self.password):
                self.logins.append(login)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


@contextmanager
def smtp_with_login(user: str, password: str) -> Iterator[AuthInbox]:
    """An SMTP server on 127.0.0.1 that requires AUTH (over plain text: it is local), or no
    login at all when ``user`` is empty."""
    inbox = AuthInbox(user, password)
    inbox.port = free_port()
    login: dict[str, Any] = {}
    if user:
        login = {
            "authenticator": inbox.authenticate,
            "auth_required": True,
            "auth_require_tls": False,
        }
    with warnings.catch_warnings():  # "AUTH without TLS": on 127.0.0.1, on purpose
        warnings.simplefilter("ignore", UserWarning)
        controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, **login)
        controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def no_environment_providers(settings: Any) -> None:
    """The deployment configures no provider: only a project's own settings send."""
    settings.EMAIL_URL = settings.JOURNEYS_EMAIL_ESP = ""
    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = settings.TWILIO_FROM = ""
    settings.FCM_SERVER_KEY = settings.FCM_PROJECT_ID = settings.FCM_SERVICE_ACCOUNT = ""
    for channel in ("PUSH", "WEB_PUSH", "EMAIL", "SMS", "IN_APP", "WEBHOOK"):
        setattr(settings, f"JOURNEYS_{channel}_BACKEND", "")
