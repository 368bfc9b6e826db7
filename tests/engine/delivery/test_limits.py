"""Frequency caps and quiet hours, checked by delivery right before it sends (engine/limits.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from engine import limits
from engine.channels import Result, sms
from engine.delivery import MAX_ATTEMPTS, deliver_due, deliver_message, deliver_messages
from engine.models import FrequencyCount, Message
from tests.engine.delivery.conftest import MakeMessage
from tests.factories import ProfileFactory

SMS = {"to": "+15550100", "body": "Hi"}
HOOK = {"url": "https://hooks.example/in", "method": "POST", "headers": {}, "body": "{}"}


class FakeTwilio:
    """SMS sends answer from ``answers`` (default: sent); the HTTP path has its own tests."""

    def __init__(self) -> None:
        self.answers: list[Result] = []
        self.calls: list[int] = []

    def __call__(self, rendered: dict[str, Any], *, message_id: int, **_: Any) -> Result:
        self.calls.append(message_id)
        return self.answers.pop(0) if self.answers else Result.sent(sid=f"SM{message_id}")


@pytest.fixture
def twilio(settings: Any, monkeypatch: pytest.MonkeyPatch) -> FakeTwilio:
    fake = FakeTwilio()
    settings.JOURNEYS_SMS_BACKEND = "twilio"
    monkeypatch.setitem(sms.BACKENDS, "twilio", fake)
    return fake


def _count(message: Message, period: str = "day") -> int:
    row = FrequencyCount.objects.filter(
        profile_id=message.profile_id, channel=message.channel, period=period
    ).first()
    return row.count if row else 0


# --- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caps", "quiet", "errors"),
    [
        ({"email": {"day": 0}}, None, {"frequency_caps.email.day"}),
        ({"email": {"day": "3"}}, None, {"frequency_caps.email.day"}),
        ({"email": {"month": 3}}, None, {"frequency_caps.email.month"}),
        ({"webhook": {"day": 3}}, None, {"frequency_caps.webhook"}),
        ({"sms": 3}, None, {"frequency_caps.sms"}),
        ([], None, {"frequency_caps"}),
        ({}, {"start": "25:00", "end": "08:00"}, {"quiet_hours.start"}),
        ({}, {"start": "21:00"}, {"quiet_hours.end"}),
        ({}, {"start": "08:00", "end": "08:00"}, {"quiet_hours.end"}),
        ({}, {"start": "21:00", "end": "08:00", "tz": "UTC"}, {"quiet_hours.tz"}),
        ({}, "21-08", {"quiet_hours"}),
    ],
)
def test_bad_limits_are_refused_naming_each_field(
    project: Any, caps: Any, quiet: Any, errors: set[str]
) -> None:
    with pytest.raises(limits.LimitsInvalid) as refused:
        limits.limits_set(project=project, frequency_caps=caps, quiet_hours=quiet)
    assert set(refused.value.errors) == errors
    assert limits.limits_get(project).empty


def test_limits_are_stored_and_read_back(project: Any) -> None:
    stored = limits.limits_set(
        project=project,
        frequency_caps={"email": {"day": 3, "week": None}, "sms": {"week": 5}},
        quiet_hours={"start": "21:00", "end": "08:00"},
    )
    assert stored.as_dict() == {
        "frequency_caps": {"email": {"day": 3}, "sms": {"week": 5}},
        "quiet_hours": {"start": "21:00", "end": "08:00"},
    }
    # One part at a time keeps the other.
    limits.limits_set(project=project, quiet_hours=None)
    assert limits.limits_get(project).as_dict()["frequency_caps"] == {
        "email": {"day": 3},
        "sms": {"week": 5},
    }
    assert limits.limits_get(project).quiet is None


# --- local time --------------------------------------------------------------------------

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("utc", "start", "end", "until"),
    [
        # 21:00-08:00 New York (UTC-5 in December): 02:00 UTC is 21:00 there.
        ("2026-12-04T02:00", "21:00", "08:00", "2026-12-04T13:00"),
        ("2026-12-04T01:59", "21:00", "08:00", None),
        ("2026-12-04T12:59", "21:00", "08:00", "2026-12-04T13:00"),  # 07:59 in the morning
        ("2026-12-04T13:00", "21:00", "08:00", None),
        # A window inside one day: 12:00-14:00.
        ("2026-12-04T17:30", "12:00", "14:00", "2026-12-04T19:00"),
        ("2026-12-04T19:00", "12:00", "14:00", None),
        # Across the end of daylight saving time (1 Nov 2026): 22:00 EDT to 08:00 EST.
        ("2026-11-01T02:00", "21:00", "08:00", "2026-11-01T13:00"),
    ],
)
def test_quiet_window_ends_at_the_local_end_time(
    utc: str, start: str, end: str, until: str | None
) -> None:
    now = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    got = limits.quiet_until(now, NY, limits.parse_time(start), limits.parse_time(end))  # type: ignore[arg-type]
    assert got == (datetime.fromisoformat(until).replace(tzinfo=UTC) if until else None)


def test_the_profile_time_zone_wins_then_the_project_one() -> None:
    assert limits.zone_of("Asia/Tokyo", "Europe/Paris").key == "Asia/Tokyo"
    assert limits.zone_of("", "Europe/Paris").key == "Europe/Paris"
    assert limits.zone_of("Not/AZone", "Europe/Paris").key == "Europe/Paris"
    assert limits.period_starts(date(2026, 12, 3)) == {
        "day": date(2026, 12, 3),
        "week": date(2026, 11, 30),  # the Monday
    }


# --- caps --------------------------------------------------------------------------------


def test_a_cap_lets_n_messages_through_and_skips_the_next_with_the_reason(
    make_message: MakeMessage, twilio: FakeTwilio
) -> None:
    first = make_message("sms", SMS)
    limits.limits_set(project=first.project, frequency_caps={"sms": {"day": 2}})
    more = [make_message("sms", SMS, profile=first.profile) for _ in range(2)]

    deliver_messages([first.pk, *(m.pk for m in more)])

    statuses = [m.status for m in Message.objects.filter(profile=first.profile).order_by("pk")]
    assert statuses == ["sent", "sent", "skipped"]
    skipped = Message.objects.get(pk=more[-1].pk)
    assert skipped.error == "frequency cap: 2 SMS per day reached"
    assert skipped.delivery["log"][-1]["outcome"] == "skipped"
    assert len(twilio.calls) == 2
    assert _count(first) == 2


def test_caps_count_per_profile_and_per_channel(
    make_message: MakeMessage, twilio: FakeTwilio
) -> None:
    a = make_message("sms", SMS)
    limits.limits_set(project=a.project, frequency_caps={"sms": {"day": 1}})
    b = make_message("sms", SMS)  # another profile
    hook = make_message("webhook", HOOK, profile=a.profile)  # webhooks are never capped

    for m in (a, b):
        deliver_message(m.pk)
    assert Message.objects.get(pk=a.pk).status == "sent"
    assert Message.objects.get(pk=b.pk).status == "sent"
    assert limits.gate([hook]) == [hook]


def test_a_week_cap_counts_across_days_of_the_local_week(
    make_message: MakeMessage, twilio: FakeTwilio
) -> None:
    # Thursday 3 Dec 2026, then Sunday 6 Dec (same week), then Monday 7 Dec (a new week).
    with time_machine.travel(datetime(2026, 12, 3, 12, tzinfo=UTC), tick=False) as clock:
        first = make_message("sms", SMS)
        limits.limits_set(project=first.project, frequency_caps={"sms": {"day": 5, "week": 2}})
        assert deliver_message(first.pk).status == "sent"  # type: ignore[union-attr]
        clock.move_to(datetime(2026, 12, 6, 12, tzinfo=UTC))
        second = make_message("sms", SMS, profile=first.profile)
        third = make_message("sms", SMS, profile=first.profile)
        assert deliver_message(second.pk).status == "sent"  # type: ignore[union-attr]
        third = deliver_message(third.pk)  # type: ignore[assignment]
        assert third.status == "skipped"
        assert third.error == "frequency cap: 2 SMS per week reached"
        clock.move_to(datetime(2026, 12, 7, 12, tzinfo=UTC))
        fourth = make_message("sms", SMS, profile=first.profile)
        assert deliver_message(fourth.pk).status == "sent"  # type: ignore[union-attr]


def test_the_day_is_the_profile_s_own_day(make_message: MakeMessage, twilio: FakeTwilio) -> None:
    # 15:00 UTC on 3 Dec is midnight of 4 Dec in Tokyo: a new day there, not in UTC.
    with time_machine.travel(datetime(2026, 12, 3, 14, tzinfo=UTC), tick=False) as clock:
        first = make_message("sms", SMS, profile=ProfileFactory(timezone="Asia/Tokyo"))
        tokyo = first.profile
        limits.limits_set(project=first.project, frequency_caps={"sms": {"day": 1}})
        assert deliver_message(first.pk).status == "sent"  # type: ignore[union-attr]
        clock.move_to(datetime(2026, 12, 3, 14, 59, tzinfo=UTC))  # 23:59 in Tokyo
        late = deliver_message(make_message("sms", SMS, profile=tokyo).pk)
        assert late is not None
        assert late.status == "skipped"
        clock.move_to(datetime(2026, 12, 3, 15, 0, tzinfo=UTC))  # midnight in Tokyo
        next_day = deliver_message(make_message("sms", SMS, profile=tokyo).pk)
        assert next_day is not None
        assert next_day.status == "sent"
    assert set(
        FrequencyCount.objects.filter(profile=tokyo, period="day").values_list("starts_on", "count")
    ) == {(date(2026, 12, 3), 1), (date(2026, 12, 4), 1)}


def test_a_retried_message_keeps_its_slot_and_takes_no_second_one(
    make_message: MakeMessage, twilio: FakeTwilio, time_machine: Any
) -> None:
    time_machine.move_to(timezone.now(), tick=False)
    message = make_message("sms", SMS)
    limits.limits_set(project=message.project, frequency_caps={"sms": {"day": 1}})
    twilio.answers = [Result.retry("503 from Twilio")]

    message = deliver_message(message.pk)  # type: ignore[assignment]
    assert message.status == "queued"
    assert _count(message) == 1
    assert message.delivery[limits.SLOTS_KEY] == {"day": timezone.now().date().isoformat()}

    time_machine.move_to(message.next_attempt_at, tick=False)
    message = deliver_message(message.pk)  # type: ignore[assignment]
    assert message.status == "sent"
    assert _count(message) == 1


def test_a_message_that_ends_failed_gives_its_slot_back(
    make_message: MakeMessage, twilio: FakeTwilio
) -> None:
    failing = make_message("sms", SMS)
    limits.limits_set(project=failing.project, frequency_caps={"sms": {"day": 1, "week": 3}})
    twilio.answers = [Result.failed("21211: invalid 'To' phone number")]

    failing = deliver_message(failing.pk)  # type: ignore[assignment]
    assert failing.status == "failed"
    assert _count(failing) == 0
    assert _count(failing, "week") == 0
    assert limits.SLOTS_KEY not in failing.delivery

    after = deliver_message(make_message("sms", SMS, profile=failing.profile).pk)
    assert after is not None
    assert after.status == "sent"
    assert _count(after) == 1


def test_giving_up_after_the_last_retry_gives_the_slot_back(
    make_message: MakeMessage, twilio: FakeTwilio
) -> None:
    message = make_message("sms", SMS, attempts=MAX_ATTEMPTS - 1)
    limits.limits_set(project=message.project, frequency_caps={"sms": {"day": 1}})
    twilio.answers = [Result.retry("503")]
    message = deliver_message(message.pk)  # type: ignore[assignment]
    assert message.status == "failed"
    assert _count(message) == 0


def test_in_app_messages_count_towards_caps_but_ignore_quiet_hours(
    make_message: MakeMessage,
) -> None:
    first = make_message("in_app", {"title": "Hi", "body": "there"})
    limits.limits_set(
        project=first.project,
        frequency_caps={"in_app": {"day": 1}},
        quiet_hours={"start": "00:00", "end": "23:59"},
    )
    second = make_message("in_app", {"title": "Hi", "body": "again"}, profile=first.profile)
    with time_machine.travel(datetime(2026, 12, 3, 12, tzinfo=UTC), tick=False):
        first.next_attempt_at = second.next_attempt_at = timezone.now()
        Message.objects.filter(pk__in=[first.pk, second.pk]).update(next_attempt_at=timezone.now())
        deliver_messages([first.pk, second.pk])
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status != "skipped"
    assert first.status != "queued"
    assert (second.status, second.error) == ("skipped", "frequency cap: 1 in-app per day reached")


# --- quiet hours -------------------------------------------------------------------------


def test_quiet_hours_hold_a_message_until_the_window_ends_in_the_profile_time_zone(
    make_message: MakeMessage, twilio: FakeTwilio
) -> None:
    # 02:30 UTC on 4 Dec is 21:30 on 3 Dec in New York: inside 21:00-08:00 there.
    with time_machine.travel(datetime(2026, 12, 4, 2, 30, tzinfo=UTC), tick=False) as clock:
        message = make_message("sms", SMS, profile=ProfileFactory(timezone="America/New_York"))
        limits.limits_set(
            project=message.project,
            frequency_caps={"sms": {"day": 1}},
            quiet_hours={"start": "21:00", "end": "08:00"},
        )
        held = deliver_message(message.pk)
        assert held is not None
        assert held.status == "queued"
        assert held.attempts == 0  # a hold is not an attempt
        assert held.next_attempt_at == datetime(2026, 12, 4, 13, 0, tzinfo=UTC)
        reason = "held for quiet hours until 2026-12-04 08:00 America/New_York"
        assert held.delivery[limits.HELD_KEY].startswith(reason)
        assert held.delivery["log"][-1]["outcome"] == "held"
        assert twilio.calls == []
        assert _count(held) == 0  # no slot taken while held

        clock.move_to(datetime(2026, 12, 4, 12, 59, tzinfo=UTC))
        assert deliver_due() == 0
        clock.move_to(datetime(2026, 12, 4, 13, 0, tzinfo=UTC))
        assert deliver_due() == 1
    message.refresh_from_db()
    assert message.status == "sent"
    assert message.attempts == 1
    assert twilio.calls == [message.pk]
    assert _count(message) == 1


def test_a_block_that_skips_in_quiet_hours_skips_with_the_reason(
    make_message: MakeMessage, twilio: FakeTwilio
) -> None:
    with time_machine.travel(datetime(2026, 12, 3, 22, tzinfo=UTC), tick=False):
        message = make_message("sms", SMS, delivery={"quiet_hours": "skip"})
        limits.limits_set(project=message.project, quiet_hours={"start": "21:00", "end": "08:00"})
        skipped = deliver_message(message.pk)
    assert skipped is not None
    assert skipped.status == "skipped"
    assert skipped.error == "skipped for quiet hours (21:00-08:00 UTC)"
    assert twilio.calls == []


def test_outside_quiet_hours_messages_go_out_at_once(
    make_message: MakeMessage, twilio: FakeTwilio
) -> None:
    with time_machine.travel(datetime(2026, 12, 3, 12, tzinfo=UTC), tick=False):
        message = make_message("sms", SMS)
        limits.limits_set(project=message.project, quiet_hours={"start": "21:00", "end": "08:00"})
        sent = deliver_message(message.pk)
    assert sent is not None
    assert sent.status == "sent"


def test_a_project_without_limits_costs_one_query_per_batch(
    make_message: MakeMessage, django_assert_num_queries: Any
) -> None:
    batch = [make_message("sms", SMS) for _ in range(3)]
    with django_assert_num_queries(1):
        assert limits.gate(batch) == batch


def test_counters_of_past_periods_are_pruned(make_message: MakeMessage) -> None:
    message = make_message("sms", SMS)
    FrequencyCount.objects.create(
        profile=message.profile, channel="sms", period="day", starts_on=date(2026, 1, 1), count=2
    )
    FrequencyCount.objects.create(
        profile=message.profile, channel="sms", period="day", starts_on=date(2026, 1, 9), count=1
    )
    assert limits.counts_prune(date(2026, 1, 2)) == 1
    assert FrequencyCount.objects.count() == 1


def test_quiet_hours_concern_email_sms_and_push_only() -> None:
    assert limits.Limits({}, (time(21), time(8))).applies_to("email")
    assert not limits.Limits({}, (time(21), time(8))).applies_to("in_app")
    assert not limits.Limits({}, None).applies_to("email")
    assert limits.NO_LIMITS.empty


def test_the_hourly_prune_keeps_the_current_day_and_week(make_message: MakeMessage) -> None:
    from engine.tasks import prune_frequency_counts

    message = make_message("sms", SMS)
    with time_machine.travel(datetime(2026, 12, 10, 12, tzinfo=UTC), tick=False):
        for starts_on in (date(2026, 11, 30), date(2026, 12, 1), date(2026, 12, 7)):
            FrequencyCount.objects.create(
                profile=message.profile, channel="sms", period="week", starts_on=starts_on
            )
        assert prune_frequency_counts() == 1
    assert sorted(FrequencyCount.objects.values_list("starts_on", flat=True)) == [
        date(2026, 12, 1),
        date(2026, 12, 7),
    ]
