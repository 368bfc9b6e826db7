"""JSON request bodies, bounded before parsing: size, nesting depth, strict UTF-8, finite numbers."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from itertools import accumulate
from typing import IO, Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer

__all__ = ["MAX_BYTES", "MAX_DEPTH", "BoundedJSONParser", "JsonBodyInvalid", "loads"]

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
# Integers are stored and compared as 64-bit numbers (SQL parameters, counters, ids).
MAX_INT = 2**63 - 1

# A complete JSON string (escapes included), or one bracket.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_DELTA = {"[": 1, "{": 1, "]": -1, "}": -1}


class JsonBodyInvalid(ValueError):
    """A body that is not bounded, strict JSON; ``message`` says what and where."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _where(text: str, position: int) -> str:
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return f"line {line} column {column} (char {position})"


def _too_deep_at(text: str, max_depth: int) -> int | None:
    """Where the nesting first goes deeper than ``max_depth``, or None.

    Runs before the parser, so a deep body never reaches its recursion: strings are cut out
    and the brackets left are counted in C-speed passes; only a body that fails the bound is
    walked again token by token to say where.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return None
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    if not brackets or max(accumulate(_DELTA[c] for c in brackets)) <= max_depth:
        return None
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in _DELTA:
            depth += _DELTA[token]
            if depth > max_depth:
                return match.start()
    return 0  # pragma: no cover - the count above found the same brackets


class _Numbers:
    """Float and int hooks of json.loads that refuse what cannot be stored or compared."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _fail(self, literal: str, why: str) -> ValueError:
        position = self.text.find(literal)
        where = f" at {_where(self.text, position)}" if position >= 0 else ""
        shown = literal if len(literal) <= 40 else literal[:37] + "..."
        return ValueError(f"number {shown}{where} {why}")

    def constant(self, name: str) -> Any:
        raise self._fail(name, "is not allowed in JSON")

    def float(self, literal: str) -> float:
        value = float(literal)
        if value in (float("inf"), float("-inf")):
            raise self._fail(literal, "is out of range (it overflows a 64-bit float)")
        return value

    def int(self, literal: str) -> int:
        if len(literal) > 20:
            raise self._fail(literal, f"is out of range (integers are within ±{MAX_INT})")
        value = int(literal)
        if not -MAX_INT <= value <= MAX_INT:
            raise self._fail(literal, f"is out of range (integers are within ±{MAX_INT})")
        return value


def loads(
    body: bytes | str,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    allow_nan: bool = False,
) -> Any:
    """Parse a request body as strict JSON (RFC 8259 in UTF-8), bounded before parsing.

    Raises JsonBodyInvalid (status 413 for size, else 400) for a body over ``max_bytes``,
    not UTF-8, nested deeper than ``max_depth``, malformed, or holding NaN, Infinity
    (unless ``allow_nan``: ingest reports them per field), a float that overflows or an
    integer outside 64 bits.
    """
    size = len(body)
    if size > max_bytes:
        raise JsonBodyInvalid(
            f"Request body is {size} bytes; the limit is {max_bytes} bytes.",
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonBodyInvalid(
                f"Request body is not UTF-8: byte 0x{body[exc.start]:02x} at char {exc.start} "
                "cannot be decoded; send JSON encoded as UTF-8."
            ) from exc
    else:
        text = body
    if text.startswith("\ufeff"):
        raise JsonBodyInvalid("Request body starts with a byte order mark; send JSON without it.")
    deep_at = _too_deep_at(text, max_depth)
    if deep_at is not None:
        raise JsonBodyInvalid(
            f"JSON is nested deeper than {max_depth} levels at {_where(text, deep_at)}."
        )
    numbers = _Numbers(text)
    try:
        return json.loads(
            text,
            parse_constant=None if allow_nan else numbers.constant,
            parse_float=numbers.float,
            parse_int=numbers.int,
        )
    except json.JSONDecodeError as exc:
        raise JsonBodyInvalid(f"Malformed JSON: {exc.msg} at {_where(text, exc.pos)}.") from exc
    except (ValueError, RecursionError) as exc:
        raise JsonBodyInvalid(f"Malformed JSON: {exc}.") from exc


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


class BoundedJSONParser(BaseParser):
    """DRF's JSON parser with the bounds of ``loads``; limits from settings
    ``JSON_MAX_BYTES`` and ``JSON_MAX_DEPTH``."""

    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        max_bytes = int(getattr(settings, "JSON_MAX_BYTES", MAX_BYTES))
        max_depth = int(getattr(settings, "JSON_MAX_DEPTH", MAX_DEPTH))
        charset = _charset(media_type or "")
        if charset not in ("", "utf-8", "utf8"):
            raise ParseError(f"JSON must be sent as UTF-8, not charset={charset}.")
        body = stream.read(max_bytes + 1) if stream is not None else b""
        try:
            return loads(body, max_bytes=max_bytes, max_depth=max_depth)
        except JsonBodyInvalid as exc:
            if exc.status == status.HTTP_413_REQUEST_ENTITY_TOO_LARGE:
                raise PayloadTooLarge(
                    f"Request body is over the limit of {max_bytes} bytes."
                ) from exc
            raise ParseError(exc.message) from exc


def _charset(media_type: str) -> str:
    for part in media_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return ""
