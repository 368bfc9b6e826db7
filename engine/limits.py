"""Frequency caps and quiet hours: a project's limits, and the check delivery makes right
before it sends a message (hold or skip in quiet hours, take a slot of the cap or skip).

Decisions (docs/channels.md "Frequency caps and quiet hours"):
- Days and weeks (Monday to Sunday) and quiet hours are the profile's local time: its own
  time zone, else the project's.
- Caps and quiet hours concern people: webhooks are never limited; in-app messages count
  towards caps but ignore quiet hours (they only appear while the person uses the site).
- A slot is taken atomically (one conditional upsert per period, in one transaction with
  the mark on the message), so concurrent workers never send one over the cap. A retried
  message keeps the slot it took; one that ends failed or skipped gives it back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Subquery
from django.utils import timezone

from engine.domain.kinds.message import QUIET_HOURS_CHANNELS, QUIET_HOURS_CHOICES
from engine.models import FrequencyCount, Message, Profile, Project, ProjectLimits
from engine.sql import dialect

# Channels that reach a person, in the words a marketer reads.
CHANNEL_WORDS: Mapping[str, str] = {
    "email": "email",
    "sms": "SMS",
    "push": "mobile push",
    "web_push": "web push",
    "in_app": "in-app",
}
CAPPED_CHANNELS: tuple[str, ...] = tuple(CHANNEL_WORDS)
QUIET_CHANNELS = QUIET_HOURS_CHANNELS
PERIODS: tuple[str, ...] = ("day", "week")
MAX_CAP = 1000
# Counters older than this are pruned (engine.prune_frequency_counts, hourly): a week that
# started 9 days ago (UTC) has ended in every time zone.
COUNTS_KEEP = timedelta(days=9)
# What a message block does in quiet hours (the block's ``quiet_hours`` field).
HOLD, SKIP = QUIET_HOURS_CHOICES
# Keys of Message.delivery: the block's choice, the slots taken, the hold.
CHOICE_KEY = "quiet_hours"
SLOTS_KEY = "cap_slots"
HELD_KEY = "held"
HELD_UNTIL_KEY = "held_until"
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Limits:
    """A project's limits: caps per channel and period, and the quiet window (or None)."""

    caps: Mapping[str, Mapping[str, int]]
    quiet: tuple[time, time] | None

    @property
    def empty(self) -> bool:
        return not self.caps and self.quiet is None

    def applies_to(self, channel: str) -> bool:
        return bool(self.caps.get(channel)) or (
            self.quiet is not None and channel in QUIET_CHANNELS
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "frequency_caps": {c: dict(p) for c, p in self.caps.items()},
            "quiet_hours": (
                {"start": self.quiet[0].strftime("%H:%M"), "end": self.quiet[1].strftime("%H:%M")}
                if self.quiet
                else None
            ),
        }


NO_LIMITS = Limits({}, None)


class LimitsInvalid(ValueError):
    """Bad limits: ``errors`` maps each field (``frequency_caps.email.day``) to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _limits(row: ProjectLimits | None) -> Limits:
    if row is None:
        return NO_LIMITS
    caps = {
        channel: {p: int(n) for p, n in periods.items() if p in PERIODS and n}
        for channel, periods in (row.frequency_caps or {}).items()
        if channel in CAPPED_CHANNELS and isinstance(periods, dict)
    }
    quiet = (row.quiet_start, row.quiet_end) if row.quiet_start and row.quiet_end else None
    return Limits({c: p for c, p in caps.items() if p}, quiet)


def limits_get(project: Project | int) -> Limits:
    project_id = project if isinstance(project, int) else project.pk
    return _limits(ProjectLimits.objects.filter(project_id=project_id).first())


# --- Settings: parsing and storing ------------------------------------------------------


def parse_caps(value: Any, errors: dict[str, str]) -> dict[str, dict[str, int]]:
    """``{"email": {"day": 3, "week": 10}}``; a null or missing period has no cap."""
    where = "frequency_caps"
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors[where] = 'must be an object like {"email": {"day": 3, "week": 10}}'
        return {}
    caps: dict[str, dict[str, int]] = {}
    for channel, periods in value.items():
        at = f"{where}.{channel}"
        if channel not in CAPPED_CHANNELS:
            errors[at] = f"{channel!r} is not a channel with caps; use {', '.join(CAPPED_CHANNELS)}"
            continue
        if periods is None:
            continue
        if not isinstance(periods, dict):
            errors[at] = 'must be an object like {"day": 3, "week": 10}'
            continue
        for period, n in periods.items():
            if period not in PERIODS:
                errors[f"{at}.{period}"] = f"{period!r} is not a period; use day or week"
            elif n is None or n == "":
                continue
            elif isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_CAP:
                errors[f"{at}.{period}"] = (
                    f"must be a whole number from 1 to {MAX_CAP} (or empty for no cap), not {n!r}"
                )
            else:
                caps.setdefault(channel, {})[period] = n
    return caps


def parse_time(value: Any) -> time | None:
    """``"21:00"`` (24-hour HH:MM) as a time, or None if it is not one."""
    if not isinstance(value, str):
        return None
    match = _TIME.match(value.strip())
    return time(int(match.group(1)), int(match.group(2))) if match else None


def parse_quiet_hours(value: Any, errors: dict[str, str]) -> tuple[time, time] | None:
    """``{"start": "21:00", "end": "08:00"}``, or None (no quiet hours)."""
    where = "quiet_hours"
    if value is None:
        return None
    if not isinstance(value, dict):
        errors[where] = 'must be null or an object like {"start": "21:00", "end": "08:00"}'
        return None
    out = []
    for key in ("start", "end"):
        parsed = parse_time(value.get(key))
        if parsed is None:
            errors[f"{where}.{key}"] = (
                f"must be a 24-hour time like 21:00, not {value.get(key)!r}"
                if key in value
                else "is required (a 24-hour time like 21:00)"
            )
        out.append(parsed)
    for key in value:
        if key not in ("start", "end"):
            errors[f"{where}.{key}"] = "is not a field of quiet hours; use start and end"
    start, end = out
    if start is None or end is None:
        return None
    if start == end:
        errors[f"{where}.end"] = "must differ from the start (the window would be empty)"
        return None
    return start, end


def limits_set(*, project: Project, frequency_caps: Any = ..., quiet_hours: Any = ...) -> Limits:
    """Validate and store the limits given (``...``: keep what is stored); LimitsInvalid
    names every bad field."""
    errors: dict[str, str] = {}
    current = limits_get(project)
    caps = current.caps if frequency_caps is ... else parse_caps(frequency_caps, errors)
    quiet = current.quiet if quiet_hours is ... else parse_quiet_hours(quiet_hours, errors)
    if errors:
        raise LimitsInvalid(errors)
    ProjectLimits.objects.update_or_create(
        project=project,
        defaults={
            "frequency_caps": {c: dict(p) for c, p in caps.items()},
            "quiet_start": quiet[0] if quiet else None,
            "quiet_end": quiet[1] if quiet else None,
        },
    )
    return limits_get(project)


# --- Local time ----------------------------------------------------------------------


def zone_of(profile_zone: str, project_zone: str) -> ZoneInfo:
    """The profile's own time zone, else the project's, else UTC."""
    for name in (profile_zone, project_zone):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def quiet_until(now: datetime, zone: ZoneInfo, start: time, end: time) -> datetime | None:
    """When the quiet window that ``now`` falls in ends (UTC), or None outside the window."""
    local = now.astimezone(zone)
    t = local.time()
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


def period_starts(local_day: date) -> dict[str, date]:
    return {"day": local_day, "week": local_day - timedelta(days=local_day.weekday())}


def cap_reason(channel: str, period: str, cap: int) -> str:
    return f"frequency cap: {cap} {CHANNEL_WORDS.get(channel, channel)} per {period} reached"


def _clock(t: time) -> str:
    return t.strftime("%H:%M")


# --- The check before sending ---------------------------------------------------------


def gate(messages: list[Message], now: datetime | None = None) -> list[Message]:
    """The claimed messages that may be sent now. The others are held for quiet hours
    (queued again for the window's end), skipped with the reason, or dropped because
    another worker took them over; for capped channels, the ones returned hold a slot."""
    candidates = [m for m in messages if m.channel in CAPPED_CHANNELS]
    if not candidates:
        return messages
    rows = ProjectLimits.objects.filter(project_id__in={m.project_id for m in candidates})
    limits = {row.project_id: _limits(row) for row in rows}
    limited = [
        m
        for m in candidates
        if m.project_id in limits and limits[m.project_id].applies_to(m.channel)
    ]
    if not limited:
        return messages
    now = now or timezone.now()
    zones = {
        pk: zone_of(tz, project_tz)
        for pk, tz, project_tz in Profile.objects.filter(
            pk__in={m.profile_id for m in limited}
        ).values_list("pk", "timezone", "project__timezone")
    }
    stopped = {
        m.pk
        for m in limited
        if not _may_send(m, limits[m.project_id], zones.get(m.profile_id, ZoneInfo("UTC")), now)
    }
    return [m for m in messages if m.pk not in stopped]


def _may_send(message: Message, limits: Limits, zone: ZoneInfo, now: datetime) -> bool:
    delivery = message.delivery or {}
    if limits.quiet is not None and message.channel in QUIET_CHANNELS:
        start, end = limits.quiet
        until = quiet_until(now, zone, start, end)
        if until is not None:
            window = f"{_clock(start)}-{_clock(end)} {zone.key}"
            if delivery.get(CHOICE_KEY) == SKIP:
                _finish_skipped(message, f"skipped for quiet hours ({window})", now)
            else:
                local = until.astimezone(zone)
                _hold(
                    message,
                    until,
                    f"held for quiet hours until {local:%Y-%m-%d %H:%M} {zone.key} ({window})",
                    now,
                )
            return False
    caps = limits.caps.get(message.channel)
    if not caps or SLOTS_KEY in delivery:  # no cap, or a retry that holds its slot
        return True
    return _take_slots(message, caps, period_starts(now.astimezone(zone).date()), now)


class _Refused(Exception):
    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


_TAKE_SQL = f"""
INSERT INTO {FrequencyCount._meta.db_table} (profile_id, channel, period, starts_on, count)
VALUES (%s, %s, %s, %s, 1)
ON CONFLICT (profile_id, channel, period, starts_on)
DO UPDATE SET count = {FrequencyCount._meta.db_table}.count + 1
WHERE {FrequencyCount._meta.db_table}.count < %s
RETURNING count
"""


def _current_profile_sql() -> str:
    """The message's profile as it is now (an identify may have moved the message since it
    was read) with its time zone and the project's; on PostgreSQL the profile is locked
    FOR KEY SHARE, so the merge cannot delete it before the counter row that refers to it
    is committed (the foreign key check would fail at commit), and a profile the merge
    deleted while this waited is not returned (read again: the message has moved)."""
    # Only the profile's row (OF p): a lock on the message would stand in the way of the
    # merge moving it.
    key_share = dialect().key_share
    lock = f"{key_share} OF p" if key_share else ""
    return (
        f"SELECT p.id, p.timezone, pr.timezone FROM {Message._meta.db_table} m "
        f"JOIN {Profile._meta.db_table} p ON p.id = m.profile_id "
        f"JOIN {Project._meta.db_table} pr ON pr.id = m.project_id "
        f"WHERE m.id = %s{lock}"
    )


# Reads of a message's profile before its slot is taken, if identify merges keep moving it.
TAKE_TRIES = 3


def _take_slots(
    message: Message, caps: Mapping[str, int], starts: Mapping[str, date], now: datetime
) -> bool:
    """One slot of each capped period, and the mark on the message, all or nothing. The
    upsert locks the counter row until commit, so a concurrent taker waits and then sees
    the new count: never one over the cap.

    The slot is the profile's the message has now: one read before an identify merged its
    anonymous profile into the identified one takes the identified profile's slot (in its
    time zone), never one of the deleted profile's (issue 10). Should the profile keep
    moving, the message is released for an attempt right away."""
    slots = {period: starts[period].isoformat() for period in PERIODS if period in caps}
    for _try in range(TAKE_TRIES):
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(_current_profile_sql(), [message.pk])
                    row = cursor.fetchone()
                    if row is None:  # merged away while we waited, or the message is gone
                        continue
                    profile_id, profile_zone, project_zone = row
                    if profile_id != message.profile_id:
                        zone = zone_of(profile_zone or "", project_zone or "")
                        starts = period_starts(now.astimezone(zone).date())
                        slots = {period: starts[period].isoformat() for period in slots}
                    for period in slots:
                        cursor.execute(
                            _TAKE_SQL,
                            [profile_id, message.channel, period, starts[period], caps[period]],
                        )
                        if cursor.fetchone() is None:
                            raise _Refused(cap_reason(message.channel, period, caps[period]))
                delivery = _write(message, {SLOTS_KEY: slots})
                if delivery is None:
                    raise _Refused()  # another worker holds it now: give the slots back
        except _Refused as refused:
            if refused.reason:
                message.profile_id = profile_id
                _finish_skipped(message, refused.reason, now)
            return False
        except IntegrityError:  # the profile went away all the same: read it again
            continue
        message.profile_id = profile_id
        message.delivery = delivery
        return True
    # Still moving: not sent on this attempt, taken up again at once (no lease to wait out).
    _mine(message).update(next_attempt_at=now)
    return False


def _mine(message: Message) -> Any:
    """The row, only while this attempt still holds it (as engine/delivery.py records)."""
    return Message.objects.filter(
        pk=message.pk,
        status=Message.Status.QUEUED,
        attempts=message.attempts,
        next_attempt_at=message.next_attempt_at,
    )


def _write(
    message: Message, facts: dict[str, Any], entry: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any] | None:
    """``delivery_write`` on the row while this attempt holds it."""
    return delivery_write(_mine(message), facts, entry, **fields)


def delivery_write(
    row: Any, facts: dict[str, Any], entry: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any] | None:
    """Write ``fields`` to the message ``row`` selects (a queryset carrying its guard:
    status, lease), with ``facts`` and the log ``entry`` (the last LOG_KEEP entries kept)
    added to ``delivery`` as the row holds it: read under a row lock in the same
    transaction (PostgreSQL; SQLite's transaction holds the write lock already), so an
    open, a click or an in-app report stored since the caller read the message is kept.
    The delivery written, or None when the guard no longer matches."""
    from engine.delivery import LOG_KEEP

    with transaction.atomic():
        stored = row.select_for_update(no_key=True).values_list("pk", "delivery").first()
        if stored is None:
            return None
        delivery = {**(stored[1] or {}), **facts}
        if entry is not None:
            delivery["log"] = [*delivery.get("log", []), entry][-LOG_KEEP:]
        if not row.update(delivery=delivery, **fields):
            return None
    return delivery


def _finish_skipped(message: Message, reason: str, now: datetime) -> None:
    entry = {
        "at": now.isoformat(),
        "attempt": message.attempts,
        "outcome": "skipped",
        "error": reason,
    }
    delivery = _write(
        message, {}, entry, status=Message.Status.SKIPPED, error=reason, next_attempt_at=None
    )
    if delivery is not None:
        message.status, message.error, message.delivery = Message.Status.SKIPPED, reason, delivery


def _hold(message: Message, until: datetime, reason: str, now: datetime) -> None:
    """Queue the message again for the window's end; the hold is not an attempt."""
    entry = {"at": now.isoformat(), "outcome": "held", "until": until.isoformat(), "reason": reason}
    facts = {HELD_KEY: reason, HELD_UNTIL_KEY: until.isoformat()}
    attempts = max(0, message.attempts - 1)
    delivery = _write(message, facts, entry, next_attempt_at=until, attempts=attempts)
    if delivery is not None:
        message.next_attempt_at, message.attempts, message.delivery = until, attempts, delivery


# --- Giving slots back -----------------------------------------------------------------


def slots_release(delivery: dict[str, Any]) -> dict[str, str] | None:
    """Take the slot mark off a message's delivery facts (it ends failed or skipped); the
    slots to give back once that is recorded."""
    slots = delivery.pop(SLOTS_KEY, None)
    return slots if isinstance(slots, dict) else None


def slots_return(message: Message, slots: Mapping[str, str]) -> None:
    """Give back the slots a message took: it never reached the person. The counter is its
    profile's now (an identify since the slot was taken moved the count with the message)."""
    profile = Subquery(Message.objects.filter(pk=message.pk).values("profile_id")[:1])
    for period, starts_on in slots.items():
        FrequencyCount.objects.filter(
            profile_id=profile,
            channel=message.channel,
            period=period,
            starts_on=date.fromisoformat(starts_on),
            count__gt=0,
        ).update(count=F("count") - 1)


def counts_prune(before: date) -> int:
    """Forget counters of periods that started before ``before`` (nothing reads them)."""
    deleted, _ = FrequencyCount.objects.filter(starts_on__lt=before).delete()
    return deleted


# --- Identify ------------------------------------------------------------------------

_MERGE_SQL = f"""
INSERT INTO {FrequencyCount._meta.db_table} (profile_id, channel, period, starts_on, count)
VALUES {{values}}
ON CONFLICT (profile_id, channel, period, starts_on)
DO UPDATE SET count = {FrequencyCount._meta.db_table}.count + excluded.count
"""


def counts_merge(*, source_id: int, target_id: int) -> int:
    """Identify folds profile ``source_id`` into ``target_id``: the source's counters are
    added to the target's, per channel, period and start, so a cap still holds across the
    merge (what the visitor was sent today counts against the identified profile's day).
    In the caller's transaction, before the source's messages move: the source's rows are
    taken with one DELETE (which locks them, in the order a sending worker locks a counter
    and then its message), then added with one upsert. Run again, it finds nothing to add.
    Returns the counters moved."""
    table = FrequencyCount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE profile_id = %s"
            " RETURNING channel, period, starts_on, count",
            [source_id],
        )
        rows = [row for row in cursor.fetchall() if row[3] > 0]
        if not rows:
            return 0
        values = ", ".join("(%s, %s, %s, %s, %s)" for _ in rows)
        params = [
            v for channel, period, day, n in rows for v in (target_id, channel, period, day, n)
        ]
        cursor.execute(_MERGE_SQL.format(values=values), params)
    return len(rows)
