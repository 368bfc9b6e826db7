"""A project's own channel providers: what may be set, validation, encrypted secrets, test sends.

A project may bring its own email (SMTP or an anymail ESP), SMS (Twilio), mobile push
(an FCM service account), web push (VAPID subject) and webhook (timeout) settings. When
a channel has a row here, it takes precedence over the deployment's environment
(docs/channels.md); otherwise the environment applies as before.

Secrets are write-only: they are encrypted at rest (Fernet, with a key derived from
``JOURNEYS_SECRETS_KEY`` or else ``SECRET_KEY``), decrypted only to send, and never
returned: readers get ``{"set": true, "hint": "ends in …4f2a"}`` at most.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from engine.models import ChannelSetting, Project

# --- what each channel lets a project set -----------------------------------------------

EMAIL_PROVIDERS = ("smtp", "anymail")
SMTP_SECURITY = ("starttls", "ssl", "none")
# anymail ESPs whose API key is one setting, and the name their backend gives it.
ESP_KEY_SETTING: dict[str, str] = {
    "postmark": "server_token",
    "mailgun": "api_key",
    "sendgrid": "api_key",
    "brevo": "api_key",
    "sparkpost": "api_key",
    "mandrill": "api_key",
    "resend": "api_key",
    "mailersend": "api_token",
}
WEBHOOK_TIMEOUT_RANGE = (1, 30)
SERVICE_ACCOUNT_FIELDS = ("type", "project_id", "private_key_id", "private_key", "client_email")
SERVICE_ACCOUNT_MAX = 20_000


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text | int | choice | email | secret | json
    choices: tuple[str, ...] = ()
    help: str = ""
    required_when: tuple[str, str] | None = None  # (field, value): required only then

    @property
    def secret(self) -> bool:
        return self.kind in {"secret", "json"}


FIELDS: dict[str, tuple[Field, ...]] = {
    "email": (
        Field(
            "provider",
            "Provider",
            "choice",
            EMAIL_PROVIDERS,
            "smtp: your mail server; anymail: an ESP's API",
        ),
        Field(
            "from_email",
            "From address",
            "email",
            help="The sender of this project's emails, e.g. shop@example.com",
        ),
        Field(
            "host", "SMTP host", required_when=("provider", "smtp"), help="e.g. smtp.example.com"
        ),
        Field("port", "SMTP port", "int", help="587 with STARTTLS, 465 with SSL, 25 without"),
        Field("username", "SMTP user"),
        Field("password", "SMTP password", "secret"),
        Field(
            "security",
            "Connection security",
            "choice",
            SMTP_SECURITY,
            "starttls (port 587), ssl (port 465) or none",
        ),
        Field(
            "esp", "ESP", "choice", tuple(ESP_KEY_SETTING), required_when=("provider", "anymail")
        ),
        Field("api_key", "ESP API key", "secret", required_when=("provider", "anymail")),
    ),
    "sms": (
        Field("account_sid", "Twilio account SID", help="AC followed by 32 hexadecimal digits"),
        Field("auth_token", "Twilio auth token", "secret"),
        Field(
            "from_number",
            "From",
            help="A Twilio number in E.164 form (+15551234567) or a messaging service SID (MG…)",
        ),
    ),
    "push": (
        Field(
            "service_account",
            "FCM service account JSON",
            "json",
            help="The key file of a Firebase service account (Project settings → Service accounts → Generate new private key)",
        ),
    ),
    "web_push": (
        Field(
            "subject",
            "VAPID subject",
            help="A mailto: address or https: URL push services may contact",
        ),
    ),
    "webhook": (
        Field(
            "timeout",
            "Timeout (seconds)",
            "int",
            help="How long to wait for your receiver: 1 to 30 s (default 10)",
        ),
    ),
}
SETTABLE = tuple(FIELDS)
DEFAULTS: dict[str, dict[str, Any]] = {
    "email": {"provider": "smtp", "port": 587, "security": "starttls", "username": ""},
    "webhook": {"timeout": 10},
}
# The backend a project's settings select, per channel.
BACKEND_OF: dict[str, str] = {
    "sms": "twilio",
    "push": "fcm",
    "web_push": "webpush",
    "webhook": "http",
}


class ChannelSettingsInvalid(ValueError):
    """Bad settings: ``errors`` maps each field (``email.port``) to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class SecretsUnreadable(RuntimeError):
    """The stored secrets cannot be decrypted with the keys configured now."""


@dataclass(frozen=True)
class ChannelConfig:
    """A project's settings for one channel, secrets decrypted: what a send function takes."""

    channel: str
    backend: str
    values: Mapping[str, Any]
    secrets: Mapping[str, str] = field(default_factory=dict)
    problem: str = ""  # set when the secrets could not be read: sends fail saying so

    def get(self, name: str, default: Any = "") -> Any:
        if name in self.secrets:
            return self.secrets[name]
        return self.values.get(name, default)


# --- encryption at rest -------------------------------------------------------------------


def _fernet_for(material: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"journeys", info=b"channel-secrets"
    ).derive(material.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(key))


def _cipher() -> MultiFernet:
    """JOURNEYS_SECRETS_KEY (comma-separated: the first encrypts, all decrypt), else SECRET_KEY
    (and SECRET_KEY_FALLBACKS, to decrypt only)."""
    explicit = [k.strip() for k in str(settings.JOURNEYS_SECRETS_KEY or "").split(",") if k.strip()]
    keys = explicit or [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    if explicit:  # secrets stored before an explicit key was set still open
        keys = [*keys, settings.SECRET_KEY]
    return MultiFernet([_fernet_for(k) for k in keys])


def encrypt(secrets: Mapping[str, str]) -> str:
    if not secrets:
        return ""
    return _cipher().encrypt(json.dumps(dict(secrets)).encode("utf-8")).decode("ascii")


def decrypt(token: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        data = json.loads(_cipher().decrypt(token.encode("ascii")))
    except (InvalidToken, ValueError) as exc:
        raise SecretsUnreadable(
            "the stored secrets cannot be decrypted (JOURNEYS_SECRETS_KEY or SECRET_KEY "
            "changed?): enter them again in the project's channel settings"
        ) from exc
    return {str(k): str(v) for k, v in data.items()}


def secrets_reencrypt() -> int:
    """Encrypt every stored secret with the current first key (after adding a new one)."""
    changed = 0
    cipher = _cipher()
    for row in ChannelSetting.objects.exclude(secrets=""):
        rotated = cipher.rotate(row.secrets.encode("ascii")).decode("ascii")
        ChannelSetting.objects.filter(pk=row.pk).update(secrets=rotated)
        changed += 1
    return changed


# --- reading --------------------------------------------------------------------------------


def _backend(channel: str, values: Mapping[str, Any]) -> str:
    if channel == "email":
        return str(values.get("provider") or "smtp")
    return BACKEND_OF[channel]


def _config(row: ChannelSetting) -> ChannelConfig:
    backend = _backend(row.channel, row.values or {})
    try:
        secrets = decrypt(row.secrets)
    except SecretsUnreadable as exc:
        return ChannelConfig(row.channel, backend, dict(row.values or {}), {}, problem=str(exc))
    return ChannelConfig(row.channel, backend, dict(row.values or {}), secrets)


ProjectChannels = Mapping[str, ChannelConfig]


def project_channels(project_id: int) -> dict[str, ChannelConfig]:
    """The project's own settings, by channel (empty: the environment applies to all)."""
    return project_channels_many([project_id]).get(project_id, {})


def project_channels_many(project_ids: Iterable[int]) -> dict[int, dict[str, ChannelConfig]]:
    """Every project's own settings in one query (a delivery batch loads them once)."""
    ids = sorted({int(i) for i in project_ids})
    out: dict[int, dict[str, ChannelConfig]] = {i: {} for i in ids}
    if not ids:
        return out
    for row in ChannelSetting.objects.filter(project_id__in=ids, channel__in=SETTABLE):
        out[row.project_id][row.channel] = _config(row)
    return out


def _hint(name: str, value: str) -> str:
    """What may be shown of a secret: its last 4 characters when it is long enough that
    they give nothing useful away; for a service account, whose key it is."""
    if name == "service_account":
        try:
            info = json.loads(value)
            return (
                f"{info.get('client_email', '')} · key …{str(info.get('private_key_id', ''))[-4:]}"
            )
        except ValueError:
            return ""
    return f"ends in …{value[-4:]}" if len(value) >= 16 else ""


def channel_settings_public(project: Project) -> dict[str, dict[str, Any]]:
    """What a member may see of the project's channel settings: values, and for each secret
    only whether it is set (and its hint). Nothing here is a secret."""
    rows = {r.channel: r for r in ChannelSetting.objects.filter(project=project)}
    out: dict[str, dict[str, Any]] = {}
    for channel, fields in FIELDS.items():
        row = rows.get(channel)
        values = dict(row.values) if row else {}
        hints = dict(row.secret_hints) if row else {}
        secret_names = [f.name for f in fields if f.secret]
        out[channel] = {
            "source": "project" if row else "environment",
            "settings": {f.name: values.get(f.name) for f in fields if not f.secret},
            "secrets": {
                name: {"set": name in hints, "hint": hints.get(name, "")} for name in secret_names
            },
            "updated_at": row.updated_at if row else None,
            "updated_by": row.updated_by if row else "",
        }
    return out


CHANNEL_LABELS: dict[str, str] = {
    "email": "Email",
    "sms": "SMS",
    "push": "Mobile push",
    "web_push": "Web push",
    "in_app": "In-app",
    "webhook": "Webhook",
}


def channels_overview(project: Project) -> list[dict[str, Any]]:
    """Every channel of the project: who sends it (its own settings or the environment's),
    whether anything leaves, what to set if not, and its public settings. No secrets."""
    from engine import channels

    configs = project_channels(project.pk)
    public = channel_settings_public(project)
    tested = last_tests(project.pk)
    out = []
    for channel in (*SETTABLE, "in_app"):
        backend = channels.backend_name(channel, configs)
        sending = backend != "record"
        entry = public.get(channel) or {
            "source": "environment",
            "settings": {},
            "secrets": {},
            "updated_at": None,
            "updated_by": "",
        }
        out.append(
            {
                "channel": channel,
                "label": CHANNEL_LABELS[channel],
                "backend": backend,
                "sending": sending,
                "hint": "" if sending else channels.PROVIDER_HINTS.get(channel, ""),
                "test_to": TEST_TARGET.get(channel, ""),
                "last_test": _without_target(tested.get(channel)),
                **entry,
            }
        )
    return out


# --- validation and writing ---------------------------------------------------------------

_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_MESSAGING_SERVICE = re.compile(r"^MG[0-9a-fA-F]{32}$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


def service_account_problem(text: str) -> str | None:
    """Why this is not a usable FCM service account JSON, else None (google-auth can sign with it)."""
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    if not isinstance(info, dict):
        return "is not a JSON object"
    missing = [k for k in SERVICE_ACCOUNT_FIELDS if not info.get(k)]
    if missing:
        return "lacks " + ", ".join(missing) + " (use the key file of a service account)"
    if info["type"] != "service_account":
        return f'has type "{info["type"]}", expected "service_account"'
    from google.oauth2 import service_account

    try:
        service_account.Credentials.from_service_account_info(info)
    except (ValueError, KeyError, TypeError) as exc:
        return f"cannot be used to sign: {str(exc)[:200]}"
    return None


def _clean_value(channel: str, spec: Field, raw: Any) -> Any:
    """The value to store for a non-secret field, or ValueError with what is wrong."""
    if raw is None or raw == "":
        return None
    if spec.kind == "int":
        if isinstance(raw, bool):
            raise ValueError("must be a whole number")
        try:
            number = int(str(raw).strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
        if spec.name == "port" and not 1 <= number <= 65535:
            raise ValueError("must be between 1 and 65535")
        if spec.name == "timeout" and not (
            WEBHOOK_TIMEOUT_RANGE[0] <= number <= WEBHOOK_TIMEOUT_RANGE[1]
        ):
            raise ValueError("must be between 1 and 30 seconds")
        return number
    if not isinstance(raw, str):
        raise ValueError("must be a string")
    text = raw.strip()
    if len(text) > 254:
        raise ValueError("is longer than 254 characters")
    if spec.kind == "choice" and text not in spec.choices:
        raise ValueError(f"must be one of: {', '.join(spec.choices)}")
    if spec.kind == "email":
        try:
            validate_email(text)
        except ValidationError:
            raise ValueError("is not an email address") from None
    if spec.name == "host" and not _HOST.match(text):
        raise ValueError("is not a host name (e.g. smtp.example.com)")
    if spec.name == "account_sid" and not _SID.match(text):
        raise ValueError("must be AC followed by 32 hexadecimal digits (see the Twilio console)")
    if spec.name == "from_number" and not (_E164.match(text) or _MESSAGING_SERVICE.match(text)):
        raise ValueError("must be a number in E.164 form (+15551234567) or a messaging service SID")
    if spec.name == "subject" and not (
        re.match(r"^mailto:[^@\s]+@[^@\s]+$", text) or re.match(r"^https://\S+$", text)
    ):
        raise ValueError("must be a mailto: address or an https:// URL")
    return text


def _clean_secret(spec: Field, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError("must be a string")
    text = raw.strip()
    if spec.kind == "json":
        if len(text) > SERVICE_ACCOUNT_MAX:
            raise ValueError("is too large for a service account JSON")
        problem = service_account_problem(text)
        if problem:
            raise ValueError(problem)
        return json.dumps(json.loads(text), separators=(",", ":"))
    if len(text) > 1000:
        raise ValueError("is longer than 1000 characters")
    return text


def _check_complete(
    channel: str, values: dict[str, Any], secrets: dict[str, str]
) -> dict[str, str]:
    """Errors for what this channel needs before it can send (everything else is optional)."""
    errors: dict[str, str] = {}

    def need(name: str, what: str) -> None:
        if not (values.get(name) or secrets.get(name)):
            errors[f"{channel}.{name}"] = f"is required: {what}"

    if channel == "email":
        need("from_email", "the sender of this project's emails")
        if values.get("provider") == "anymail":
            need("esp", "which ESP sends the mail")
            need("api_key", "the ESP's API key")
        else:
            need("host", "the SMTP server")
            if secrets.get("password") and not values.get("username"):
                errors["email.username"] = "is required with a password"
    elif channel == "sms":
        need("account_sid", "the Twilio account")
        need("auth_token", "the account's auth token")
        need("from_number", "the number messages come from")
    elif channel == "push":
        need("service_account", "the service account JSON FCM is called with")
    return errors


def channel_settings_write(
    *,
    project: Project,
    channel: str,
    data: Mapping[str, Any],
    replace: bool,
    actor: str = "",
) -> ChannelSetting:
    """Set a project's settings for one channel (the whole of them with ``replace``, else the
    fields given). A secret given as a string is stored; as None it is cleared; left out, it
    is kept. Raises ChannelSettingsInvalid naming each bad field."""
    if channel not in FIELDS:
        raise ChannelSettingsInvalid({"channel": f"must be one of: {', '.join(SETTABLE)}"})
    specs = {f.name: f for f in FIELDS[channel]}
    errors: dict[str, str] = {}
    if not isinstance(data, Mapping):
        raise ChannelSettingsInvalid({channel: "must be an object"})
    for name in data:
        if name not in specs:
            errors[f"{channel}.{name}"] = (
                f"is not a setting of {channel} (known: {', '.join(specs)})"
            )
    with transaction.atomic():
        row = (
            ChannelSetting.objects.select_for_update()
            .filter(project=project, channel=channel)
            .first()
        )
        old_values = dict(row.values) if row and not replace else {}
        try:
            secrets = decrypt(row.secrets) if row else {}
        except SecretsUnreadable:
            secrets = {}  # unreadable: only what is given now survives
        hints = dict(row.secret_hints) if row else {}
        values = {**DEFAULTS.get(channel, {}), **old_values}
        for name, spec in specs.items():
            if name not in data:
                continue
            raw = data[name]
            try:
                if spec.secret:  # None clears it; "" (an empty form field) keeps it
                    if raw is None:
                        secrets.pop(name, None)
                        hints.pop(name, None)
                    elif raw != "":
                        secrets[name] = _clean_secret(spec, raw)
                        hints[name] = _hint(name, secrets[name])
                else:
                    cleaned = _clean_value(channel, spec, raw)
                    if cleaned is None:
                        values.pop(name, None)
                        if name in DEFAULTS.get(channel, {}):
                            values[name] = DEFAULTS[channel][name]
                    else:
                        values[name] = cleaned
            except ValueError as exc:
                errors[f"{channel}.{name}"] = str(exc)
        if channel == "push" and "service_account" in secrets:
            info = json.loads(secrets["service_account"])
            values["project_id"] = info.get("project_id", "")
            values["client_email"] = info.get("client_email", "")
        if channel == "email" and values.get("provider") == "anymail":
            secrets.pop("password", None)
            hints.pop("password", None)
        elif channel == "email":
            secrets.pop("api_key", None)
            hints.pop("api_key", None)
        if not errors:
            errors = _check_complete(channel, values, secrets)
        if errors:
            raise ChannelSettingsInvalid(errors)
        if row is None:
            row = ChannelSetting(project=project, channel=channel)
        row.values = values
        row.secrets = encrypt(secrets)
        row.secret_hints = {k: hints.get(k, "") for k in secrets}
        row.updated_by = actor[:150]
        row.save()
    return row


def channel_settings_clear(*, project: Project, channel: str) -> bool:
    """Remove the project's settings for a channel: the environment applies again."""
    if channel not in FIELDS:
        raise ChannelSettingsInvalid({"channel": f"must be one of: {', '.join(SETTABLE)}"})
    deleted, _ = ChannelSetting.objects.filter(project=project, channel=channel).delete()
    return bool(deleted)


# --- test sends -----------------------------------------------------------------------------

TEST_TARGET = {
    "email": "an email address",
    "sms": "a phone number in E.164 form (+15551234567)",
    "push": "a device's FCM registration token",
    "webhook": "an http(s) URL",
    "web_push": "a profile's id or email",
    "in_app": "a profile's id or email",
}
# Test sends that go to a profile (engine/channel_tests.py), not to an address.
PROFILE_TESTS = ("web_push", "in_app")


@dataclass(frozen=True)
class TestSend:
    outcome: str  # sent | recorded | failed | retry | skipped
    backend: str
    error: str
    detail: dict[str, Any]
    text: str = ""  # a channel's own account of what happened (web push, in-app)

    @property
    def sentence(self) -> str:
        """What happened, in plain words for the page."""
        if self.text:
            return self.text
        if self.outcome == "sent":
            return f"Sent through {self.backend}: the provider accepted the test message."
        if self.outcome == "recorded":
            return (
                "Not sent: this channel has no provider, so the test message was only "
                "recorded in the outbox file."
            )
        if self.outcome == "retry":
            return (
                f"Not sent, the provider could not be reached or asked to try later: {self.error}"
            )
        if self.outcome == "skipped":
            return f"Not sent: {self.error}"
        return f"Not sent, the provider refused it: {self.error}"


LAST_TEST_SECONDS = 90 * 24 * 3600  # how long the settings page remembers a test's outcome


def _last_test_key(project_id: int, channel: str) -> str:
    return f"channel-last-test:{project_id}:{channel}"


def last_tests(project_id: int) -> dict[str, dict[str, Any]]:
    """The outcome of each channel's latest test send (kept in the cache: may be forgotten)."""
    keys = {_last_test_key(project_id, c): c for c in TEST_TARGET}
    return {keys[k]: v for k, v in cache.get_many(list(keys)).items() if isinstance(v, dict)}


def _without_target(last: dict[str, Any] | None) -> dict[str, Any] | None:
    """A remembered test as members may read it: not whom it went to."""
    return None if last is None else {k: v for k, v in last.items() if k != "to"}


def last_test_targets(project_id: int) -> dict[str, str]:
    """Whom each channel's latest test went to: the settings page offers it to admins again."""
    return {c: str(last.get("to") or "") for c, last in last_tests(project_id).items()}


def channel_send_test(*, project: Project, channel: str, to: str) -> TestSend:
    """Send a real test message through the project's provider for this channel (its own
    settings, else the environment's) to ``to``, say what happened, and remember it."""
    result = _send_test(project=project, channel=channel, to=to)
    last: dict[str, Any] = {
        "at": timezone.now().isoformat(),
        "outcome": result.outcome,
        "message": result.sentence,
        "to": (to or "").strip()[:254],
    }
    if "shown" in result.detail:  # in-app: shown on an open page, or queued
        last["shown"] = bool(result.detail["shown"])
    cache.set(_last_test_key(project.pk, channel), last, timeout=LAST_TEST_SECONDS)
    return result


def _send_test(*, project: Project, channel: str, to: str) -> TestSend:
    from engine.channels import get_sender

    to = (to or "").strip()
    if channel not in TEST_TARGET:
        raise ChannelSettingsInvalid({"channel": f"must be one of: {', '.join(TEST_TARGET)}"})
    if not to:
        raise ChannelSettingsInvalid({"to": f"is required: {TEST_TARGET[channel]}"})
    if len(to) > 2000:
        raise ChannelSettingsInvalid({"to": "is too long"})
    if channel in PROFILE_TESTS:
        from engine import channel_tests

        return channel_tests.send_test(project=project, channel=channel, to=to)
    if channel == "email":
        try:
            validate_email(to)
        except ValidationError:
            raise ChannelSettingsInvalid({"to": "is not an email address"}) from None
    if channel == "sms" and not _E164.match(to):
        raise ChannelSettingsInvalid({"to": "must be a phone number in E.164 form (+15551234567)"})
    if channel == "webhook" and not re.match(r"^https?://\S+$", to):
        raise ChannelSettingsInvalid({"to": "must be an http:// or https:// URL"})
    title = f"Test message from Journeys ({project.name})"
    body = "If you can read this, this channel's settings work."
    by_channel: dict[str, dict[str, Any]] = {
        "email": {"to": to, "subject": title, "text": body, "html": f"<p>{body}</p>"},
        "sms": {"to": to, "body": f"{title}: {body}"},
        "push": {"title": title, "body": body, "tokens": [{"token": to, "platform": "test"}]},
        "webhook": {
            "url": to,
            "method": "POST",
            "body": json.dumps({"test": True, "project": project.pk, "message": body}),
        },
    }
    rendered = by_channel[channel]
    backend, send = get_sender(channel, project_channels(project.pk))
    key = f"journeys-test-{uuid.uuid4().hex}"
    try:
        result = send(rendered, message_id=0, idempotency_key=key)
    except Exception as exc:  # a bug in a backend: the admin still gets an answer
        return TestSend("failed", backend, f"{type(exc).__name__}: {exc}"[:300], {})
    detail = {
        k: v
        for k, v in result.delivery.items()
        if k in {"status_code", "provider_id", "smtp_code", "smtp_host", "message_id"}
    }
    return TestSend(result.outcome.value, backend, result.error, detail)
