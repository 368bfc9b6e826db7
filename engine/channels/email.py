"""Email backends: an ESP's API through django-anymail (JOURNEYS_EMAIL_ESP), SMTP to the
server in EMAIL_URL (smtp://user:pass@host:port), else record.

Both go through Django's email framework. The Message-ID is derived from the idempotency key, so a redelivered email carries
the same Message-ID as the first try and mail systems that dedupe on it show one.
"""

from __future__ import annotations

import smtplib
from typing import Any
from urllib.parse import unquote, urlparse

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from engine import tracking
from engine.channel_settings import ESP_KEY_SETTING, ChannelConfig
from engine.channels import Result, record, smtp_pool

TIMEOUT_SECONDS = 10.0


def _classify(code: int, text: str) -> Result:
    """SMTP says it: 5xx is permanent, 4xx is "try again later"."""
    if 500 <= code < 600:
        return Result.failed(f"SMTP {code}: {text}", smtp_code=code)
    return Result.retry(f"SMTP {code}: {text}", smtp_code=code)


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _smtp_server(config: ChannelConfig | None) -> dict[str, Any]:
    """Where and how to connect: the project's own SMTP settings, else EMAIL_URL."""
    if config is not None:
        security = config.get("security", "starttls")
        return {
            "host": config.get("host"),
            "port": int(config.get("port") or (465 if security == "ssl" else 587)),
            "username": config.get("username"),
            "password": config.get("password"),
            "use_tls": security == "starttls",
            "use_ssl": security == "ssl",
        }
    url = urlparse(settings.EMAIL_URL)
    return {
        "host": url.hostname,
        "port": url.port or 25,
        "username": unquote(url.username or ""),
        "password": unquote(url.password or ""),
    }


def _from_email(config: ChannelConfig | None) -> str:
    return str((config.get("from_email") if config else "") or settings.DEFAULT_FROM_EMAIL)


def send_smtp(
    message_rendered: dict[str, Any],
    *,
    message_id: int,
    idempotency_key: str,
    config: ChannelConfig | None = None,
) -> Result:
    to = str(message_rendered.get("to") or "").strip()
    if not to:
        return Result.skipped("no email address")
    if config is not None and config.problem:
        return Result.failed(config.problem)
    message_rendered = tracking.email_prepare(message_rendered, message_id)
    server = _smtp_server(config)
    if not server["host"]:
        return Result.failed("EMAIL_URL is not set: cannot send email over SMTP")
    from_email = _from_email(config)
    domain = from_email.rsplit("@", 1)[-1].strip(">") or "journeys"
    smtp_message_id = f"<{idempotency_key}@{domain}>"

    email = EmailMultiAlternatives(
        subject=str(message_rendered.get("subject") or ""),
        body=str(message_rendered.get("text") or ""),
        from_email=from_email,
        to=[to],
        headers={
            "Message-ID": smtp_message_id,
            "X-Journeys-Idempotency-Key": idempotency_key,
            **message_rendered["headers"],
        },
    )
    html = message_rendered.get("html")
    if html:
        email.attach_alternative(str(html), "text/html")

    facts: dict[str, Any] = {"smtp_host": server["host"], "message_id": smtp_message_id}
    try:
        smtp_pool.send(server, email, timeout=TIMEOUT_SECONDS)  # a pooled, reused connection
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(
            f"{rcpt}: {code} {_text(msg)}" for rcpt, (code, msg) in exc.recipients.items()
        )
        if codes and all(500 <= code < 600 for code in codes):
            return Result.failed(f"recipient refused: {detail}", **facts)
        return Result.retry(f"recipient refused for now: {detail}", **facts)
    except smtplib.SMTPResponseException as exc:
        result = _classify(exc.smtp_code, _text(exc.smtp_error))
        return Result(result.outcome, result.error, {**facts, **result.delivery})
    except (smtplib.SMTPException, OSError) as exc:  # disconnects, refused connections, timeouts
        return Result.retry(f"{type(exc).__name__}: {exc}", **facts)
    return Result.sent(**facts)


def send_anymail(
    message_rendered: dict[str, Any],
    *,
    message_id: int,
    idempotency_key: str,
    config: ChannelConfig | None = None,
) -> Result:
    """Through the ESP named by JOURNEYS_EMAIL_ESP (postmark, mailgun, sendgrid, amazon_ses,
    brevo, ...), with its credentials in ANYMAIL_<ESP>_<SETTING> (docs/channels.md); or the
    project's own ESP and API key."""
    from anymail.exceptions import (
        AnymailAPIError,
        AnymailError,
        AnymailInvalidAddress,
        AnymailRecipientsRefused,
    )

    to = str(message_rendered.get("to") or "").strip()
    if not to:
        return Result.skipped("no email address")
    if config is not None and config.problem:
        return Result.failed(config.problem)
    message_rendered = tracking.email_prepare(message_rendered, message_id)
    esp = str(config.get("esp")) if config else settings.JOURNEYS_EMAIL_ESP
    # The project's API key, under the name this ESP's backend gives it.
    credentials = {ESP_KEY_SETTING.get(esp, "api_key"): config.get("api_key")} if config else {}
    from_email = _from_email(config)
    domain = from_email.rsplit("@", 1)[-1].strip(">") or "journeys"
    email = EmailMultiAlternatives(
        subject=str(message_rendered.get("subject") or ""),
        body=str(message_rendered.get("text") or ""),
        from_email=from_email,
        to=[to],
        headers={
            "Message-ID": f"<{idempotency_key}@{domain}>",
            "X-Journeys-Idempotency-Key": idempotency_key,
            **message_rendered["headers"],
        },
    )
    html = message_rendered.get("html")
    if html:
        email.attach_alternative(str(html), "text/html")
    facts: dict[str, Any] = {"provider": f"anymail:{esp}"}
    try:
        connection = get_connection(
            f"anymail.backends.{esp}.EmailBackend", fail_silently=False, **credentials
        )
        connection.send_messages([email])
    except ImportError as exc:
        return Result.failed(f"JOURNEYS_EMAIL_ESP={esp!r} is not an anymail ESP: {exc}", **facts)
    except (AnymailRecipientsRefused, AnymailInvalidAddress) as exc:
        return Result.failed(f"recipient refused: {exc}"[:500], **facts)
    except AnymailAPIError as exc:
        status = getattr(exc, "status_code", None)
        facts["status_code"] = status
        if status is None or status in {408, 429} or status >= 500:  # network, busy, outage
            return Result.retry(f"{esp}: {exc}"[:500], **facts)
        return Result.failed(f"{esp}: {exc}"[:500], **facts)
    except AnymailError as exc:  # configuration, unsupported feature: trying again cannot help
        return Result.failed(f"{esp}: {exc}"[:500], **facts)
    status = getattr(email, "anymail_status", None)
    if status is not None:
        facts["provider_id"] = status.message_id or ""
        facts["esp_status"] = sorted(status.status or [])
        if status.status and status.status <= {"rejected", "invalid", "failed"}:
            return Result.failed(f"{esp} did not accept it: {sorted(status.status)}", **facts)
    return Result.sent(**facts)


def send_record(
    message_rendered: dict[str, Any], *, message_id: int, idempotency_key: str
) -> Result:
    if not str(message_rendered.get("to") or "").strip():
        return Result.skipped("no email address")
    return record.record(
        "email", message_rendered, message_id=message_id, idempotency_key=idempotency_key
    )


def default_backend() -> str:
    if settings.JOURNEYS_EMAIL_ESP:
        return "anymail"
    return "smtp" if settings.EMAIL_URL else "record"


BACKENDS = {"anymail": send_anymail, "smtp": send_smtp, "record": send_record}
