"""Channel backends: the registry keyed by channel name and the Result every send returns.

Each channel is a module with ``BACKENDS`` (backend name -> send function) and
``default_backend() -> str`` (what runs when ``JOURNEYS_<CHANNEL>_BACKEND`` is unset).
A send function is ``send(rendered, *, message_id, idempotency_key, config=None) -> Result``
(``config``: the project's own settings, engine/channel_settings.py, else the environment's);
it never raises for a delivery problem, it says what happened.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import ModuleType
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class Outcome(StrEnum):
    SENT = "sent"
    RECORDED = "recorded"  # kept by a record-only backend: no provider, nothing left
    RETRY = "retry"  # a temporary failure: try again later
    FAILED = "failed"  # a permanent failure: trying again cannot help
    SKIPPED = "skipped"  # nothing to send to (no address, no token)


@dataclass(frozen=True)
class Result:
    """What a send did, and the provider facts kept in ``Message.delivery``."""

    outcome: Outcome
    error: str = ""
    delivery: dict[str, Any] = field(default_factory=dict)
    # A provider's Retry-After, in seconds, honoured when longer than our backoff.
    retry_after: float | None = None

    @classmethod
    def sent(cls, **delivery: Any) -> Result:
        return cls(Outcome.SENT, delivery=delivery)

    @classmethod
    def recorded(cls, **delivery: Any) -> Result:
        return cls(Outcome.RECORDED, delivery=delivery)

    @classmethod
    def retry(cls, error: str, *, retry_after: float | None = None, **delivery: Any) -> Result:
        return cls(Outcome.RETRY, error=error, delivery=delivery, retry_after=retry_after)

    @classmethod
    def failed(cls, error: str, **delivery: Any) -> Result:
        return cls(Outcome.FAILED, error=error, delivery=delivery)

    @classmethod
    def skipped(cls, reason: str, **delivery: Any) -> Result:
        return cls(Outcome.SKIPPED, error=reason, delivery=delivery)


class SendFn(Protocol):
    def __call__(
        self,
        message_rendered: dict[str, Any],
        *,
        message_id: int,
        idempotency_key: str,
    ) -> Result: ...


def idempotency_key(message_id: int) -> str:
    """The key a receiver dedupes an at-least-once redelivery by: stable per outbox row."""
    return f"journeys-msg-{message_id}"


def _modules() -> dict[str, ModuleType]:
    from engine.channels import email, in_app, push, sms, web_push, webhook

    return {
        "push": push,
        "web_push": web_push,
        "email": email,
        "sms": sms,
        "in_app": in_app,
        "webhook": webhook,
    }


CHANNEL_NAMES: tuple[str, ...] = ("push", "web_push", "email", "sms", "in_app", "webhook")


def _project_config(channel: str, project: int | Mapping[str, Any] | None) -> Any:
    """The project's own settings for this channel (a ChannelConfig), or None.

    ``project`` is a project id (read now), the project's settings already loaded
    (``channel_settings.project_channels``: a delivery batch loads them once), or None.
    """
    if project is None:
        return None
    if isinstance(project, int):
        from engine.channel_settings import project_channels

        project = project_channels(project)
    return project.get(channel)


def _forced_record(channel: str) -> bool:
    """``JOURNEYS_<CHANNEL>_BACKEND=record``: the operator's switch (a staging copy of
    production sends nothing), over any project's settings."""
    return (getattr(settings, f"JOURNEYS_{channel.upper()}_BACKEND", "") or "") == "record"


def backend_name(channel: str, project: int | Mapping[str, Any] | None = None) -> str:
    """The backend in use for a channel: the project's own settings, else
    ``JOURNEYS_<CHANNEL>_BACKEND``, else the environment's default."""
    module = _modules().get(channel)
    if module is None:
        raise KeyError(channel)
    config = None if _forced_record(channel) else _project_config(channel, project)
    if config is not None:
        return str(config.backend)
    chosen = getattr(settings, f"JOURNEYS_{channel.upper()}_BACKEND", "") or ""
    name = chosen or module.default_backend()
    backends: Mapping[str, Callable[..., Result]] = module.BACKENDS
    if name not in backends:
        raise ImproperlyConfigured(
            f"JOURNEYS_{channel.upper()}_BACKEND={name!r}: expected one of {sorted(backends)}"
        )
    return str(name)


def get_sender(channel: str, project: int | Mapping[str, Any] | None = None) -> tuple[str, SendFn]:
    """(backend name, send function) for a channel, with the project's own settings when it
    has them (docs/channels.md); KeyError for an unknown channel."""
    config = None if _forced_record(channel) else _project_config(channel, project)
    name = backend_name(channel, {channel: config} if config is not None else None)
    send: SendFn = _modules()[channel].BACKENDS[name]
    if config is not None:
        send = functools.partial(_modules()[channel].BACKENDS[name], config=config)
    return name, send


# What a project admin or the operator sets so a channel stops being record-only
# (docs/channels.md).
PROVIDER_HINTS: dict[str, str] = {
    "email": "set EMAIL_URL (smtp://host:port) or JOURNEYS_EMAIL_ESP (an anymail ESP), or "
    "add an SMTP server or ESP under Channels in the project settings",
    "sms": "set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM, or add a Twilio "
    "account under Channels in the project settings",
    "push": "set FCM_SERVICE_ACCOUNT (the Firebase service account JSON), or add one under "
    "Channels in the project settings",
    "web_push": "unset JOURNEYS_WEB_PUSH_BACKEND (VAPID keys are made per project)",
    "in_app": "unset JOURNEYS_IN_APP_BACKEND (the web SDK shows in-app messages)",
    "webhook": "unset JOURNEYS_WEBHOOK_BACKEND",
}


def provider_configured(channel: str, project: int | Mapping[str, Any] | None = None) -> bool:
    """False when the channel's messages are only recorded (``recorded``, never ``sent``),
    for this project (its own settings, else the environment's)."""
    return backend_name(channel, project) != "record"


def unconfigured_channels(
    project: int | Mapping[str, Any] | None = None,
) -> list[tuple[str, str]]:
    """(channel, what to set) for every channel that has no provider configured."""
    if isinstance(project, int):
        from engine.channel_settings import project_channels

        project = project_channels(project)
    return [(c, PROVIDER_HINTS[c]) for c in CHANNEL_NAMES if not provider_configured(c, project)]
