"""The message kinds, one per channel: push, web push, email, SMS, in-app, webhook."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..blocks import Block, BlockHeader
from ..fields import BlockContext, join
from .base import BlockType, FieldSpec, field_spec

DEFAULT_IN_APP_EXPIRY = 86400
WEBHOOK_METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")
# What a person-facing message does in the project's quiet hours (engine/limits.py).
QUIET_HOURS_CHANNELS: tuple[str, ...] = ("push", "web_push", "email", "sms")
QUIET_HOURS_CHOICES: tuple[str, ...] = ("hold", "skip")
# Email engagement tracking, per block: "on" (the default) or "off".
ON_OFF: tuple[str, ...] = ("on", "off")
TRACKING_FIELDS: Mapping[str, str] = {
    "track_opens": "Track opens with an invisible image (marks the message opened)",
    "track_clicks": "Track clicks through signed redirect links (marks it clicked)",
}
_HTTP_URL = re.compile(r"^https?://[^\s/?#]+", re.IGNORECASE)
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")


@dataclass(frozen=True)
class MessageBlock(Block):
    """A message on ``channel`` (= type); ``content`` has every field of the channel (None if unset)."""

    channel: str
    content: Mapping[str, Any]


# Per channel: (field, required) of its template fields, in palette order.
MESSAGE_FIELDS: Mapping[str, tuple[tuple[str, bool], ...]] = {
    "push": (("title", True), ("body", True), ("url", False)),
    "web_push": (("title", True), ("body", True), ("url", False)),
    "email": (("subject", True), ("html", False), ("text", False)),
    "sms": (("body", True),),
    "in_app": (("title", False), ("body", False), ("button_text", False), ("button_url", False)),
    "webhook": (("url", True), ("body", False)),
}
# Channels that need at least one of these fields.
_ONE_OF: Mapping[str, tuple[str, ...]] = {"email": ("html", "text"), "in_app": ("title", "body")}


def _webhook_extras(raw: Mapping[str, Any], ctx: BlockContext, content: dict[str, Any]) -> None:
    r = ctx.reader
    url = content.get("url")
    if isinstance(url, str) and not _HTTP_URL.match(url.strip()):
        ctx.error("url", "The webhook URL must start with http:// or https:// and name a host")
    method = raw.get("method")
    if method is None:
        content["method"] = "POST"
    elif not isinstance(method, str) or method.upper() not in WEBHOOK_METHODS:
        ctx.error("method", f"Unknown method '{method}'; use one of: {', '.join(WEBHOOK_METHODS)}")
    else:
        content["method"] = method.upper()
    headers = raw.get("headers")
    content["headers"] = {}
    if headers is None:
        return
    if not isinstance(headers, Mapping):
        ctx.error("headers", "'headers' must be an object of header name to text value")
        return
    for key, value in headers.items():
        at = join(ctx.at("headers"), str(key))
        if not isinstance(key, str) or not _HEADER_NAME.match(key):
            r.error(at, f"'{key}' is not a valid header name")
        elif not isinstance(value, str):
            r.error(at, "Header values must be text")
        else:
            checked = r.get_str(
                headers, ctx.at("headers"), key, template=True, label=f"Header '{key}'"
            )
            if checked is not None:
                content["headers"][key] = checked


def parse_message(raw: Mapping[str, Any], ctx: BlockContext, head: BlockHeader) -> Block | None:
    r = ctx.reader
    before = len(r.errors)
    channel = head.type
    content: dict[str, Any] = {}
    for key, required in MESSAGE_FIELDS[channel]:
        content[key] = r.get_str(raw, ctx.path, key, required=required, template=True)
    one_of = _ONE_OF.get(channel)
    if one_of is not None and all(
        raw.get(key) is None or (isinstance(raw.get(key), str) and not raw[key].strip())
        for key in one_of
    ):
        ctx.error(
            one_of[0], f"Add {' or '.join(repr(k) for k in one_of)} (at least one is required)"
        )
    if channel == "in_app":
        expiry = r.get_duration(raw, ctx.path, "expires_after", required=False)
        content["expires_after"] = DEFAULT_IN_APP_EXPIRY if expiry is None else expiry
    if channel == "webhook":
        _webhook_extras(raw, ctx, content)
    if channel == "email":  # engagement tracking (docs/channels.md), on unless turned off
        for key in TRACKING_FIELDS:
            content[key] = r.get_choice(raw, ctx.path, key, ON_OFF, default="on") != "off"
    if channel in QUIET_HOURS_CHANNELS:
        content["quiet_hours"] = r.get_choice(
            raw, ctx.path, "quiet_hours", QUIET_HOURS_CHOICES, default="hold"
        )
    if len(r.errors) > before:
        return None
    return MessageBlock(head.id, head.type, channel, content, name=head.name)


def message_kind(type_: str, label: str, description: str) -> BlockType:
    fields: tuple[FieldSpec, ...] = tuple(
        field_spec(
            name, "template", required, f"{name.replace('_', ' ').capitalize()} (Liquid template)"
        )
        for name, required in MESSAGE_FIELDS[type_]
    )
    if type_ == "in_app":
        fields += (
            field_spec(
                "expires_after",
                "duration",
                False,
                "Drop the message if not shown by then",
                default="P1D",
            ),
        )
    if type_ == "email":
        fields += tuple(
            field_spec(key, "choice", False, help, choices=ON_OFF, default="on")
            for key, help in TRACKING_FIELDS.items()
        )
    if type_ == "webhook":
        fields += (
            field_spec(
                "method", "choice", False, "HTTP method", choices=WEBHOOK_METHODS, default="POST"
            ),
            field_spec("headers", "headers", False, "Header name to value (Liquid templates)"),
        )
    if type_ in QUIET_HOURS_CHANNELS:
        fields += (
            field_spec(
                "quiet_hours",
                "choice",
                False,
                "In the project's quiet hours: hold until they end, or skip",
                choices=QUIET_HOURS_CHOICES,
                default="hold",
            ),
        )
    return BlockType(
        type_, label, "message", False, True, parse_message, fields, description, channel=type_
    )


PUSH = message_kind("push", "Mobile Push", "A push notification to the user's mobile devices")
WEB_PUSH = message_kind("web_push", "Web Push", "A browser push notification")
EMAIL = message_kind("email", "Email", "An email")
SMS = message_kind("sms", "SMS", "A text message")
IN_APP = message_kind("in_app", "In-App", "A pop-up on the website, shown by the web SDK")
WEBHOOK = message_kind("webhook", "Webhook", "An HTTP request to your server")
