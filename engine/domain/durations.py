"""Durations in journey definitions: parsing ISO 8601 / integer seconds and formatting them."""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["MAX_DURATION_SECONDS", "DurationError", "format_duration", "parse_duration"]

# Ten years (3660 days): long enough for any journey, short enough that "now + duration"
# never overflows a datetime or a 64-bit column.
MAX_DURATION_SECONDS = 3660 * 86400

_MINUTE = 60
_HOUR = 3600
_DAY = 86400
_WEEK = 7 * _DAY

_ISO = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_HAS_YEARS_OR_MONTHS = re.compile(r"^P(?:[\d.,]+Y|(?:[\d.,]+[YW])*[\d.,]+M)", re.IGNORECASE)
_HAS_FRACTION = re.compile(r"\d[.,]\d")


class DurationError(ValueError):
    """A duration a marketer wrote that we cannot use; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _check_range(seconds: int, allow_negative: bool) -> int:
    if seconds < 0 and not allow_negative:
        raise DurationError("Duration must not be negative")
    if abs(seconds) > MAX_DURATION_SECONDS:
        raise DurationError(f"Duration must be at most {MAX_DURATION_SECONDS // _DAY} days")
    return seconds


def parse_duration(value: Any, *, allow_negative: bool = False) -> int:
    """Return the duration in whole seconds, or raise DurationError.

    Accepts an int (not bool) or an ISO 8601 duration using weeks, days, hours,
    minutes and whole seconds (``"PT20M"``, ``"P1DT2H"``, ``"P2W"``). A leading
    minus (``"-PT2H"``, ``-7200``) only with ``allow_negative=True``.
    """
    if isinstance(value, bool):
        raise DurationError(
            "Duration must be a number of seconds or an ISO 8601 duration like 'PT20M'"
        )
    if isinstance(value, int):
        return _check_range(value, allow_negative)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return _check_range(int(value), allow_negative)
        raise DurationError("Duration must be a whole number of seconds")
    if not isinstance(value, str):
        raise DurationError(
            "Duration must be a number of seconds or an ISO 8601 duration like 'PT20M'"
        )
    text = value.strip()
    sign = 1
    if text.startswith("-"):
        if not allow_negative:
            raise DurationError("Duration must not be negative")
        sign = -1
        text = text[1:]
    text = text.upper()
    if _HAS_YEARS_OR_MONTHS.match(text):
        raise DurationError(
            f"Duration '{value}' uses years or months, whose length varies; use days or weeks instead (e.g. 'P30D')"
        )
    match = _ISO.match(text)
    if match is None:
        if text.startswith("P") and _HAS_FRACTION.search(text):
            raise DurationError(f"Duration '{value}' must use whole seconds")
        raise DurationError(
            f"'{value}' is not a duration; write seconds (e.g. 1200) or ISO 8601 like 'PT20M', 'P1D', 'P1DT2H'"
        )
    parts = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
    total = (
        parts["weeks"] * _WEEK
        + parts["days"] * _DAY
        + parts["hours"] * _HOUR
        + parts["minutes"] * _MINUTE
        + parts["seconds"]
    )
    return _check_range(sign * total, allow_negative)


def format_duration(seconds: int) -> str:
    """Return the ISO 8601 form of a number of seconds (``5400`` -> ``"PT1H30M"``)."""
    sign = "-" if seconds < 0 else ""
    rest = abs(seconds)
    days, rest = divmod(rest, _DAY)
    hours, rest = divmod(rest, _HOUR)
    minutes, secs = divmod(rest, _MINUTE)
    out = "P"
    if days:
        out += f"{days}D"
    time = ""
    if hours:
        time += f"{hours}H"
    if minutes:
        time += f"{minutes}M"
    if secs:
        time += f"{secs}S"
    if time:
        out += "T" + time
    if out == "P":
        return "PT0S"
    return sign + out
