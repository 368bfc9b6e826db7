"""Validation of ingest payloads (events, profiles, identify) into clean records.

Everything here is pure: a request body in, either clean records or a list of
errors ``{"index", "field", "message"}`` out. Nothing is stored unless the whole
request is valid, so a client can fix its batch and send it again.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import orjson

from journeys_site import errors, parsers

MAX_ID_LENGTH = 255
MAX_NAME_LENGTH = 255
MAX_CLIENT_ID_LENGTH = 128
MAX_HASH_LENGTH = 128
MAX_JSON_DEPTH = parsers.MAX_DEPTH
MAX_TIMEZONE_LENGTH = 64
MAX_PUSH_TOKEN_LENGTH = 4096
MAX_PUSH_TOKENS = 20
MAX_FUTURE_SKEW = timedelta(hours=24)
MIN_YEAR = 1900
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")
PUSH_PLATFORMS = {"android", "ios", "web"}


class IngestError(Exception):
    """The request cannot be stored; ``errors`` says what and where; ``status`` is 400 or 413."""

    def __init__(self, errors: list[dict[str, Any]], status: int = 400) -> None:
        super().__init__(errors)
        self.errors = errors
        self.status = status


def error(index: int | None, field_name: str | None, message: str) -> dict[str, Any]:
    return errors.ingest_item(index, field_name, message)


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__,
# ~2 ms of a 1,000-event request's CPU against ~0.5 ms; nothing changes a record.
@dataclass(slots=True)
class EventRecord:
    profile_id: str
    name: str
    ts: datetime
    properties: dict[str, Any]
    client_id: str | None
    # Identity verification of an SDK-key call (CONTRACT.md "Keys and identity").
    user_hash: str | None = None


@dataclass(slots=True)
class ProfileRecord:
    external_id: str
    # Only the keys the client sent: a missing key leaves the stored value alone.
    fields: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] | None = None
    # Channel -> subscribed, only for the channels sent (engine/consent.py).
    subscriptions: dict[str, bool] | None = None
    user_hash: str | None = None


# JSON can carry what the databases cannot store only through these tokens: NaN and
# Infinity, and \u escapes for NUL and for (lone) surrogates. A body without any of them
# needs no per-value check.
# Three scans, not one alternation: each starts with a literal, which the scanner finds
# at memchr speed (one ``NaN|Infinity|\\u...`` pattern tries every byte: 5 ms a batch).
_SUSPECT_ESCAPES = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def needs_value_check(body: bytes) -> bool:
    return b"NaN" in body or b"Infinity" in body or _SUSPECT_ESCAPES.search(body) is not None


# Digits, all made "0": a number the stdlib parser's hooks refuse (journeys_site/parsers.py:
# an integer beyond +-(2**63 - 1)) or that orjson reads differently (an integer beyond
# 64 bits becomes a float there) has at least 19 digits in a row.
_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19
_CONTAINERS: frozenset[type] = frozenset({dict, list})


def _within_depth(value: Any, depth: int) -> bool:
    """True when ``value`` nests at most ``depth`` levels (itself counted)."""
    if depth <= 0:
        return False
    children = value.values() if type(value) is dict else value
    # map(type, ...) runs in C: a container of scalars (most are) costs one call.
    if _CONTAINERS.isdisjoint(map(type, children)):
        return True
    for child in children:
        kind = type(child)
        if (kind is dict or kind is list) and not _within_depth(child, depth - 1):
            return False
    return True


def _fast_loads(body: bytes) -> Any:
    """The body parsed by orjson (C, 3-5x the stdlib's speed with the number hooks and the
    depth scan), or None when the stdlib path must decide: orjson refused it (malformed,
    not UTF-8, a BOM, NaN, a lone surrogate, ...: the slow path says why, in the usual
    words), it nests deeper than ``MAX_JSON_DEPTH``, or it holds a number of 19 or more
    digits. For every body it returns a value for, ``parsers.loads`` returns an equal one."""
    if _LONG_NUMBER in body.translate(_DIGITS):
        return None
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if (type(value) is dict or type(value) is list) and not _within_depth(value, MAX_JSON_DEPTH):
        return None
    return value


def decode_body(body: bytes, *, max_bytes: int) -> Any:
    if len(body) > max_bytes:
        raise IngestError(
            [
                error(
                    None,
                    None,
                    f"Request body is {len(body)} bytes; the limit is {max_bytes} bytes (1 MiB). Split the batch.",
                )
            ],
            status=413,
        )
    if not body.strip():
        raise IngestError([error(None, None, "Request body is empty; send a JSON object.")])
    value = _fast_loads(body)
    if value is not None:
        return value
    # Strict UTF-8 before anything reads the raw bytes (needs_value_check scans them as
    # UTF-8), nesting bounded before the parser recurses, NaN/Infinity and overflowing
    # numbers refused with where they are.
    try:
        return parsers.loads(body, max_bytes=max_bytes, max_depth=MAX_JSON_DEPTH, allow_nan=True)
    except parsers.JsonBodyInvalid as exc:
        raise IngestError([error(None, None, exc.message)], status=exc.status) from exc


def _batch(payload: Any, key: str, max_items: int) -> list[Any]:
    if not isinstance(payload, dict):
        raise IngestError([error(None, None, f'Expected a JSON object like {{"{key}": [...]}}.')])
    items = payload.get(key)
    if not isinstance(items, list):
        raise IngestError([error(None, key, f'"{key}" is required and must be a list.')])
    if not items:
        raise IngestError([error(None, key, f'"{key}" is empty; send at least one.')])
    if len(items) > max_items:
        raise IngestError(
            [error(None, key, f"{len(items)} items sent; at most {max_items} per request.")]
        )
    return items


def _storable_text(value: str) -> bool:
    """PostgreSQL text/jsonb cannot hold NUL, and lone surrogates are not UTF-8."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_json(value: Any) -> bool:
    """JSON from the wire can hold NaN/Infinity, NUL and lone surrogates (Python's parser
    accepts them); the databases cannot store them the same way, so refuse them."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return _storable_text(value)
    if isinstance(value, dict):
        return all(
            isinstance(k, str) and _storable_text(k) and _check_json(v) for k, v in value.items()
        )
    if isinstance(value, list):
        return all(_check_json(v) for v in value)
    return True


def storable_json(value: Any) -> bool:
    """True when every number in ``value`` is finite and every string and key is text the
    databases can store (no NUL, no lone surrogate); for any ingest path that stores JSON."""
    return _check_json(value)


def _string(
    item: dict[str, Any],
    key: str,
    index: int,
    errors: list[dict[str, Any]],
    *,
    max_length: int,
    required: bool,
    deep: bool = True,
) -> str | None:
    value = item.get(key)
    if value is None:
        if required:
            errors.append(error(index, key, f'"{key}" is required.'))
        return None
    if not isinstance(value, str):
        errors.append(error(index, key, f'"{key}" must be a string, not {type(value).__name__}.'))
        return None
    if not value.strip():
        errors.append(error(index, key, f'"{key}" must not be empty.'))
        return None
    if len(value) > max_length:
        errors.append(error(index, key, f'"{key}" is longer than {max_length} characters.'))
        return None
    if deep and not _storable_text(value):
        errors.append(error(index, key, f'"{key}" holds a NUL character or invalid Unicode.'))
        return None
    return value


def _properties(
    item: dict[str, Any], index: int, errors: list[dict[str, Any]], *, deep: bool = True
) -> dict[str, Any] | None:
    value = item.get("properties", {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(error(index, "properties", '"properties" must be a JSON object.'))
        return None
    if deep and not _check_json(value):
        errors.append(
            error(
                index,
                "properties",
                '"properties" holds NaN, Infinity, a NUL character or invalid Unicode.',
            )
        )
        return None
    return value


def parse_timestamp(value: Any) -> datetime:
    """ISO 8601 with a zone (``Z`` or an offset). Raises ValueError with a readable message."""
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO 8601 string, not {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; add Z or an offset like +05:30")
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"{value!r} is out of range") from exc
    if utc.year < MIN_YEAR:
        raise ValueError(f"{value!r} is before {MIN_YEAR}")
    return parsed


def _event_fast(item: Any, now: datetime) -> EventRecord | None:
    """The common, valid event checked in one pass, or None: then ``_event`` decides (and
    says what is wrong). Accepts exactly what ``_event`` accepts with ``deep=False``."""
    if type(item) is not dict:
        return None
    get = item.get
    profile_id = get("profile_id")
    name = get("name")
    client_id = get("id")
    user_hash = get("user_hash")
    properties = get("properties", {})
    ts = get("ts")
    if not (
        type(profile_id) is str
        and 0 < len(profile_id) <= MAX_ID_LENGTH
        and not profile_id.isspace()
        and type(name) is str
        and 0 < len(name) <= MAX_NAME_LENGTH
        and not name.isspace()
        and (
            client_id is None
            or (
                type(client_id) is str
                and 0 < len(client_id) <= MAX_CLIENT_ID_LENGTH
                and not client_id.isspace()
            )
        )
        and (
            user_hash is None
            or (
                type(user_hash) is str
                and 0 < len(user_hash) <= MAX_HASH_LENGTH
                and not user_hash.isspace()
            )
        )
    ):
        return None
    if properties is None:
        properties = {}
    elif type(properties) is not dict:
        return None
    if ts is None:
        ts = now
    else:
        if type(ts) is not str:
            return None
        try:
            ts = datetime.fromisoformat(ts)
            if ts.tzinfo is None or ts.astimezone(UTC).year < MIN_YEAR:
                return None
        except (ValueError, OverflowError):
            return None
        if ts - now > MAX_FUTURE_SKEW:
            return None
    return EventRecord(profile_id, name, ts, properties, client_id, user_hash)


def _event(
    item: Any, index: int, errors: list[dict[str, Any]], *, now: datetime, deep: bool
) -> EventRecord | None:
    if not isinstance(item, dict):
        errors.append(error(index, None, "Each event must be a JSON object."))
        return None
    before = len(errors)
    client_id = _string(
        item, "id", index, errors, max_length=MAX_CLIENT_ID_LENGTH, required=False, deep=deep
    )
    profile_id = _string(
        item, "profile_id", index, errors, max_length=MAX_ID_LENGTH, required=True, deep=deep
    )
    name = _string(
        item, "name", index, errors, max_length=MAX_NAME_LENGTH, required=True, deep=deep
    )
    ts = now
    if item.get("ts") is not None:
        try:
            ts = parse_timestamp(item["ts"])
        except ValueError as exc:
            errors.append(error(index, "ts", f'"ts" {exc}.'))
        else:
            if ts - now > MAX_FUTURE_SKEW:
                errors.append(
                    error(
                        index,
                        "ts",
                        '"ts" is more than 24 hours in the future; check the client clock.',
                    )
                )
    properties = _properties(item, index, errors, deep=deep)
    user_hash = _string(
        item, "user_hash", index, errors, max_length=MAX_HASH_LENGTH, required=False, deep=deep
    )
    if len(errors) != before:
        return None
    assert profile_id is not None
    assert name is not None
    assert properties is not None
    return EventRecord(profile_id, name, ts, properties, client_id, user_hash)


def parse_events(
    payload: Any, *, now: datetime, max_items: int, deep: bool = True
) -> list[EventRecord]:
    """``deep=False`` skips the per-value storability check, for a body that
    ``needs_value_check`` cleared."""
    items = _batch(payload, "events", max_items)
    errors: list[dict[str, Any]] = []
    records: list[EventRecord] = []
    for index, item in enumerate(items):
        record = None if deep else _event_fast(item, now)
        if record is None:
            record = _event(item, index, errors, now=now, deep=deep)
        if record is not None:
            records.append(record)
    if errors:
        raise IngestError(errors)
    return records


_TIMEZONES: frozenset[str] | None = None


def is_timezone(value: str) -> bool:
    global _TIMEZONES
    if _TIMEZONES is None:
        _TIMEZONES = frozenset(available_timezones())
    if value in _TIMEZONES:
        return True
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _push_tokens(
    value: Any, index: int, errors: list[dict[str, Any]]
) -> list[dict[str, str]] | None:
    if not isinstance(value, list):
        errors.append(
            error(index, "push_tokens", '"push_tokens" must be a list of {"token", "platform"}.')
        )
        return None
    if len(value) > MAX_PUSH_TOKENS:
        errors.append(
            error(index, "push_tokens", f"At most {MAX_PUSH_TOKENS} push tokens per profile.")
        )
        return None
    tokens: list[dict[str, str]] = []
    for position, token in enumerate(value):
        where = f"push_tokens[{position}]"
        if (
            not isinstance(token, dict)
            or not isinstance(token.get("token"), str)
            or not token["token"]
            or len(token["token"]) > MAX_PUSH_TOKEN_LENGTH
        ):
            errors.append(
                error(
                    index,
                    where,
                    'Each push token must be {"token": "...", "platform": "android|ios|web"}'
                    f" with a token of at most {MAX_PUSH_TOKEN_LENGTH} characters.",
                )
            )
            return None
        platform = token.get("platform", "android")
        if not isinstance(platform, str) or platform not in PUSH_PLATFORMS:
            errors.append(
                error(index, where, f"Unknown platform {platform!r}; use android, ios or web.")
            )
            return None
        tokens.append({"token": token["token"], "platform": platform})
    return tokens


def parse_profile_item(
    item: Any, index: int, errors: list[dict[str, Any]], *, id_key: str = "id"
) -> ProfileRecord | None:
    if not isinstance(item, dict):
        errors.append(error(index, None, "Each profile must be a JSON object."))
        return None
    before = len(errors)
    # Every string anywhere in a profile (email, push tokens, properties, keys) must be
    # storable text: the field checks below test shape, not NUL or lone surrogates.
    for key, value in item.items():
        if not _check_json({key: value}):
            shown = key if isinstance(key, str) and _storable_text(key) else None
            errors.append(
                error(
                    index,
                    shown,
                    f'"{shown}" holds NaN, Infinity, a NUL character or invalid Unicode.'
                    if shown
                    else "A key holds a NUL character or invalid Unicode.",
                )
            )
    if len(errors) != before:
        return None
    external_id = _string(item, id_key, index, errors, max_length=MAX_ID_LENGTH, required=True)
    record = ProfileRecord(external_id or "")
    if "email" in item:
        email = item["email"]
        if email is None or email == "":
            record.fields["email"] = ""
        elif not isinstance(email, str) or not EMAIL_RE.match(email) or len(email) > 254:
            errors.append(error(index, "email", f"{email!r} is not an email address."))
        else:
            record.fields["email"] = email
    if "phone" in item:
        phone = item["phone"]
        if phone is None or phone == "":
            record.fields["phone"] = ""
        elif not isinstance(phone, str) or not PHONE_RE.match(phone):
            errors.append(
                error(index, "phone", f"{phone!r} is not a phone number in E.164 form (+15550100).")
            )
        else:
            record.fields["phone"] = phone
    if "timezone" in item:
        tz = item["timezone"]
        if tz is None or tz == "":
            record.fields["timezone"] = ""
        elif not isinstance(tz, str) or len(tz) > MAX_TIMEZONE_LENGTH or not is_timezone(tz):
            errors.append(
                error(index, "timezone", f"{tz!r} is not an IANA time zone (like Asia/Kolkata).")
            )
        else:
            record.fields["timezone"] = tz
    if "push_tokens" in item:
        tokens = _push_tokens(item["push_tokens"], index, errors)
        if tokens is not None:
            record.fields["push_tokens"] = tokens
    if "properties" in item:
        record.properties = _properties(item, index, errors)
    if "subscriptions" in item:
        from engine.consent import parse_subscriptions  # models: loaded once apps are ready

        wanted, problem = parse_subscriptions(item["subscriptions"])
        if problem:
            errors.append(error(index, "subscriptions", problem))
        else:
            record.subscriptions = wanted
    record.user_hash = _string(
        item, "user_hash", index, errors, max_length=MAX_HASH_LENGTH, required=False
    )
    if len(errors) != before:
        return None
    return record


def parse_profiles(payload: Any, *, max_items: int) -> list[ProfileRecord]:
    items = _batch(payload, "profiles", max_items)
    errors: list[dict[str, Any]] = []
    records: list[ProfileRecord] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        record = parse_profile_item(item, index, errors)
        if record is None:
            continue
        if record.external_id in seen:
            errors.append(
                error(
                    index,
                    "id",
                    f"Profile {record.external_id!r} appears twice (also at index {seen[record.external_id]}); send it once.",
                )
            )
            continue
        seen[record.external_id] = index
        records.append(record)
    if errors:
        raise IngestError(errors)
    return records


@dataclass(frozen=True, slots=True)
class IdentifyRecord:
    profile: ProfileRecord
    anonymous_id: str | None
    user_hash: str | None


def parse_identify(payload: Any) -> IdentifyRecord:
    if not isinstance(payload, dict):
        raise IngestError(
            [error(None, None, 'Expected a JSON object like {"profile_id": "u-42"}.')]
        )
    errors: list[dict[str, Any]] = []
    record = parse_profile_item(payload, 0, errors, id_key="profile_id")
    anonymous_id = _string(
        payload, "anonymous_id", 0, errors, max_length=MAX_ID_LENGTH, required=False
    )
    user_hash = record.user_hash if record is not None else None
    if errors or record is None:
        for item in errors:
            item["index"] = None
        raise IngestError(errors)
    return IdentifyRecord(record, anonymous_id, user_hash)


def merge_properties(stored: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Shallow merge; a key sent as null is removed."""
    merged = dict(stored)
    for key, value in update.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
