"""Time frames of the historical stats: parsing ``from``/``to`` and filtering a column by them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Q
from django.utils.dateparse import parse_date, parse_datetime

__all__ = ["Frame", "FrameInvalid", "frame_from_params"]

# Frames are arithmetic (a day added, a zone applied): years far from now would overflow.
MIN_YEAR, MAX_YEAR = 1900, 9000

# A "+01:00" offset sent unencoded in a query string arrives as " 01:00".
_SPACE_OFFSET = re.compile(r"^(.*T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


class FrameInvalid(ValueError):
    """A ``from``/``to`` value that is not a date or date-time; ``field`` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Frame:
    """``[start, end)``; either bound may be open (None)."""

    start: datetime | None = None
    end: datetime | None = None

    def q(self, column: str) -> Q:
        """``column`` within the frame (a NULL column is never within it)."""
        q = Q(**{f"{column}__isnull": False})
        if self.start is not None:
            q &= Q(**{f"{column}__gte": self.start})
        if self.end is not None:
            q &= Q(**{f"{column}__lt": self.end})
        return q

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.start, "to": self.end}


def _parse_one(field: str, raw: str) -> datetime:
    text = raw.strip()
    match = _SPACE_OFFSET.match(text)
    if match:
        text = f"{match.group(1)}+{match.group(2)}"
    try:
        moment = parse_datetime(text)
        day = None if moment else parse_date(text)
    except ValueError:
        raise FrameInvalid(field, "Not a valid date or date-time.") from None
    if moment is None and day is None:
        raise FrameInvalid(
            field, "Expected an ISO 8601 date-time with a zone (2026-11-28T10:00:00Z) or a date."
        )
    if moment is None:
        assert isinstance(day, date)
        moment = datetime.combine(day, time.min)
    if moment.tzinfo is None:
        # A date or a date-time without a zone is read as UTC, like every time in the API.
        moment = moment.replace(tzinfo=UTC)
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise FrameInvalid(field, f"Out of range: use a year from {MIN_YEAR} to {MAX_YEAR}.")
    return moment.astimezone(UTC)


def frame_from_params(params: Mapping[str, Any]) -> Frame:
    """The frame of ``?from=&to=``: open on a side that is absent (all time when both are).
    A ``to`` that is a bare date includes that whole day."""
    bounds: dict[str, datetime | None] = {"from": None, "to": None}
    for field in ("from", "to"):
        raw = params.get(field)
        if raw in (None, ""):
            continue
        moment = _parse_one(field, str(raw))
        if field == "to" and parse_date(str(raw).strip()) is not None:
            moment += timedelta(days=1)
        bounds[field] = moment
    start, end = bounds["from"], bounds["to"]
    if start is not None and end is not None and end <= start:
        raise FrameInvalid("to", "'to' must be after 'from'.")
    return Frame(start, end)
