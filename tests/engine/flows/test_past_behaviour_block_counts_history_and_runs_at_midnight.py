"""PRODUCT §2 Past Behaviour: did / did not do events (counts, sums, profile properties) in
the last n days. Entry: evaluated at the start and every 24 hours. Inside: evaluated at
12:00 am in the project's time zone for users waiting there, or on arrival."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tests.engine.flows.conftest import entry_only, split

pytestmark = pytest.mark.django_db


def pb(
    *conditions: dict[str, Any], window_days: int = 7, match: str = "all", **extra: Any
) -> dict[str, Any]:
    return {
        "type": "past_behaviour",
        "window_days": window_days,
        "match": match,
        "conditions": list(conditions),
        **extra,
    }


def ago(**delta: float) -> datetime:
    return timezone.now() - timedelta(**delta)


def times(engine: Any, pid: str, name: str, n: int, **props: Any) -> None:
    for i in range(n):
        engine.track_at(pid, name, ago(hours=1 + i), **props)


# --- conditions, judged on arrival -----------------------------------------------------------


def on_arrival(*conditions: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return split(pb(*conditions, evaluate="on_arrival", **kw))


def verdict(engine: Any, journey: Any, pid: str) -> str | None:
    engine.track(pid, "Start")
    return engine.outcome(journey, pid, "seg")


@pytest.mark.parametrize(
    ("op", "value", "yes_for", "no_for"),
    [
        ("eq", 3, 3, 2),
        ("neq", 3, 2, 3),
        ("gt", 2, 3, 2),
        ("gte", 3, 3, 2),
        ("lt", 3, 2, 3),
        ("lte", 3, 3, 4),
    ],
)
def test_count_comparisons(engine: Any, op: str, value: int, yes_for: int, no_for: int) -> None:
    journey = engine.publish(
        on_arrival({"kind": "did", "event": "App Launched", "count": {"op": op, "value": value}})
    )
    times(engine, "yes", "App Launched", yes_for)
    times(engine, "no", "App Launched", no_for)
    assert verdict(engine, journey, "yes") == "yes"
    assert verdict(engine, journey, "no") == "no"


def test_count_zero_with_lt_means_never(engine: Any) -> None:
    journey = engine.publish(
        on_arrival({"kind": "did", "event": "App Launched", "count": {"op": "lt", "value": 1}})
    )
    times(engine, "did", "App Launched", 1)
    assert verdict(engine, journey, "never") == "yes"
    assert verdict(engine, journey, "did") == "no"


def test_did_defaults_to_at_least_once(engine: Any) -> None:
    journey = engine.publish(on_arrival({"kind": "did", "event": "Video Watched"}))
    times(engine, "u1", "Video Watched", 1)
    assert verdict(engine, journey, "u1") == "yes"
    assert verdict(engine, journey, "u2") == "no"


def test_count_respects_where(engine: Any) -> None:
    journey = engine.publish(
        on_arrival(
            {
                "kind": "did",
                "event": "Charged",
                "where": [{"property": "item", "op": "eq", "value": "shoe"}],
                "count": {"op": "gte", "value": 2},
            }
        )
    )
    times(engine, "u1", "Charged", 2, item="shoe")
    times(engine, "u2", "Charged", 1, item="shoe")
    times(engine, "u2", "Charged", 3, item="sock")
    assert verdict(engine, journey, "u1") == "yes"
    assert verdict(engine, journey, "u2") == "no"


@pytest.mark.parametrize(
    ("op", "value", "yes_amounts", "no_amounts"),
    [
        ("gte", 300, [100, 200], [100, 199]),
        ("gt", 300, [301], [100, 200]),
        ("lt", 100, [50, 49], [50, 50]),
        ("eq", 300, [150, 150], [150, 151]),
    ],
)
def test_sums_over_a_property(
    engine: Any, op: str, value: int, yes_amounts: list[int], no_amounts: list[int]
) -> None:
    journey = engine.publish(
        on_arrival(
            {
                "kind": "did",
                "event": "Charged",
                "sum": {"property": "amount", "op": op, "value": value},
            }
        )
    )
    for i, amount in enumerate(yes_amounts):
        engine.track_at("yes", "Charged", ago(hours=i + 1), amount=amount)
    for i, amount in enumerate(no_amounts):
        engine.track_at("no", "Charged", ago(hours=i + 1), amount=amount)
    assert verdict(engine, journey, "yes") == "yes"
    assert verdict(engine, journey, "no") == "no"


def test_sum_ignores_non_numbers(engine: Any) -> None:
    journey = engine.publish(
        on_arrival(
            {
                "kind": "did",
                "event": "Charged",
                "sum": {"property": "amount", "op": "gte", "value": 300},
            }
        )
    )
    engine.track_at("u1", "Charged", ago(hours=1), amount=250)
    engine.track_at("u1", "Charged", ago(hours=2), amount="100")
    engine.track_at("u1", "Charged", ago(hours=3))
    assert verdict(engine, journey, "u1") == "no"


def test_did_not(engine: Any) -> None:
    journey = engine.publish(on_arrival({"kind": "did_not", "event": "Subscription Paid"}))
    times(engine, "payer", "Subscription Paid", 1)
    assert verdict(engine, journey, "payer") == "no"
    assert verdict(engine, journey, "free") == "yes"


@pytest.mark.parametrize(
    ("condition", "yes_props", "no_props"),
    [
        ({"property": "plan", "op": "eq", "value": "pro"}, {"plan": "pro"}, {"plan": "free"}),
        ({"property": "age", "op": "gte", "value": 18}, {"age": 18}, {"age": 17}),
        (
            {"property": "city", "op": "in", "value": ["Paris", "Lyon"]},
            {"city": "Lyon"},
            {"city": "Rome"},
        ),
        ({"property": "email_ok", "op": "exists"}, {"email_ok": True}, {}),
    ],
)
def test_profile_conditions(
    engine: Any, condition: dict[str, Any], yes_props: dict[str, Any], no_props: dict[str, Any]
) -> None:
    journey = engine.publish(on_arrival({"kind": "profile", **condition}))
    engine.profile("yes", **yes_props)
    engine.profile("no", **no_props)
    assert verdict(engine, journey, "yes") == "yes"
    assert verdict(engine, journey, "no") == "no"


VIDEO_NO_SUB = (
    {"kind": "did", "event": "Video Watched"},
    {"kind": "did_not", "event": "Subscription Paid"},
)


def test_match_all_needs_every_condition(engine: Any) -> None:
    journey = engine.publish(on_arrival(*VIDEO_NO_SUB, window_days=30))
    times(engine, "watcher", "Video Watched", 1)
    times(engine, "subscriber", "Video Watched", 1)
    times(engine, "subscriber", "Subscription Paid", 1)
    assert verdict(engine, journey, "watcher") == "yes"
    assert verdict(engine, journey, "subscriber") == "no"
    assert verdict(engine, journey, "idle") == "no"  # did not watch


def test_match_any_needs_one_condition(engine: Any) -> None:
    journey = engine.publish(
        on_arrival(
            {"kind": "did", "event": "Video Watched"},
            {"kind": "profile", "property": "plan", "op": "eq", "value": "pro"},
            match="any",
        )
    )
    times(engine, "watcher", "Video Watched", 1)
    engine.profile("pro", plan="pro")
    engine.profile("free", plan="free")
    assert verdict(engine, journey, "watcher") == "yes"
    assert verdict(engine, journey, "pro") == "yes"
    assert verdict(engine, journey, "free") == "no"


def test_events_older_than_the_window_do_not_count(engine: Any) -> None:
    journey = engine.publish(
        on_arrival(
            {"kind": "did", "event": "Charged", "count": {"op": "gte", "value": 2}}, window_days=7
        )
    )
    engine.track_at("old", "Charged", ago(days=8))
    engine.track_at("old", "Charged", ago(days=6))
    engine.track_at("recent", "Charged", ago(days=6, hours=23))
    engine.track_at("recent", "Charged", ago(days=1))
    assert verdict(engine, journey, "old") == "no"
    assert verdict(engine, journey, "recent") == "yes"


def test_did_not_ignores_events_older_than_the_window(engine: Any) -> None:
    journey = engine.publish(on_arrival({"kind": "did_not", "event": "Charged"}, window_days=3))
    engine.track_at("u1", "Charged", ago(days=4))
    assert verdict(engine, journey, "u1") == "yes"


# --- as entry criteria: at the start, then every 24 hours ------------------------------------


def test_entry_evaluated_when_published(engine: Any) -> None:
    times(engine, "u1", "Video Watched", 1)
    engine.profile("u2")
    journey = engine.publish(entry_only(pb({"kind": "did", "event": "Video Watched"})))
    engine.run_due()
    assert engine.at(journey, "u1") == ("exited", "hello", "completed")
    assert engine.path(journey, "u1")[0] == ("entry", "yes")
    assert not engine.entered(journey, "u2")


def test_entry_evaluated_again_every_24_hours(engine: Any) -> None:
    engine.profile("u2")
    journey = engine.publish(entry_only(pb({"kind": "did", "event": "Video Watched"})))
    engine.run_due()
    engine.advance(hours=1)
    engine.track("u2", "Video Watched")  # not a live entry: waits for the next evaluation
    assert not engine.entered(journey, "u2")
    engine.advance(hours=22)
    assert not engine.entered(journey, "u2")
    engine.advance(hours=1, seconds=1)
    assert engine.entered(journey, "u2")


def test_entry_check_does_not_enter_twice_by_default(engine: Any) -> None:
    times(engine, "u1", "Video Watched", 1)
    journey = engine.publish(
        entry_only(pb({"kind": "did", "event": "Video Watched"}, window_days=30))
    )
    engine.run_due()
    engine.advance(days=1, seconds=1)
    engine.advance(days=1, seconds=1)
    assert len(engine.enrollments(journey, "u1")) == 1


def test_entry_with_reentry_enters_again_each_day_after_exiting(engine: Any) -> None:
    times(engine, "u1", "Video Watched", 1)
    journey = engine.publish(
        entry_only(
            pb({"kind": "did", "event": "Video Watched"}, window_days=30), allow_reentry=True
        )
    )
    engine.run_due()
    engine.advance(days=1, seconds=1)
    assert len(engine.enrollments(journey, "u1")) == 2


def test_entry_profile_condition(engine: Any) -> None:
    engine.profile("pro", plan="pro")
    engine.profile("free", plan="free")
    journey = engine.publish(
        entry_only(pb({"kind": "profile", "property": "plan", "op": "eq", "value": "pro"}))
    )
    engine.run_due()
    assert engine.entered(journey, "pro")
    assert not engine.entered(journey, "free")


# --- inside: the project's 12:00 am run --------------------------------------------------------

MIDNIGHT = pb({"kind": "did", "event": "Charged"}, window_days=1)


def test_inside_waits_for_midnight_then_routes(engine: Any) -> None:
    journey = engine.publish(split(MIDNIGHT))
    engine.track("buyer", "Start")
    engine.track("idle", "Start")
    engine.advance(hours=2)
    engine.track("buyer", "Charged")
    assert engine.at(journey, "buyer") == ("active", "seg", "")
    engine.advance(hours=11, minutes=59)  # 23:59 UTC
    assert engine.at(journey, "buyer") == ("active", "seg", "")
    assert engine.at(journey, "idle") == ("active", "seg", "")
    engine.until_midnight()
    assert engine.at(journey, "buyer") == ("exited", "y", "completed")
    assert engine.at(journey, "idle") == ("exited", "n", "completed")


def test_inside_runs_once_a_day_not_every_tick(engine: Any) -> None:
    journey = engine.publish(split(MIDNIGHT))
    engine.until_midnight()
    engine.track("u1", "Start")  # arrives at 00:00:01, just after the run
    engine.advance(hours=23)
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.until_midnight()
    assert engine.outcome(journey, "u1", "seg") == "no"


def test_inside_in_a_non_utc_project(engine: Any) -> None:
    engine.set_timezone("Asia/Kolkata")  # UTC+05:30: midnight is 18:30 UTC
    journey = engine.publish(split(MIDNIGHT))
    engine.track("u1", "Start")  # 10:00 UTC = 15:30 IST
    engine.move_to(datetime(2026, 11, 28, 18, 29, tzinfo=UTC))
    engine.run_due()
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.move_to(datetime(2026, 11, 28, 18, 30, 1, tzinfo=UTC))
    engine.run_due()
    assert engine.outcome(journey, "u1", "seg") == "no"


def test_inside_kolkata_is_not_evaluated_at_utc_midnight(engine: Any) -> None:
    engine.set_timezone("Asia/Kolkata")
    engine.move_to(datetime(2026, 11, 28, 19, 0, tzinfo=UTC))  # 00:30 IST, just after a run
    engine.run_due()
    journey = engine.publish(split(MIDNIGHT))
    engine.track("u1", "Start")
    engine.move_to(datetime(2026, 11, 29, 0, 0, 1, tzinfo=UTC))  # UTC midnight = 05:30 IST
    engine.run_due()
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.move_to(datetime(2026, 11, 29, 18, 30, 1, tzinfo=UTC))
    engine.run_due()
    assert engine.outcome(journey, "u1", "seg") == "no"


def test_inside_on_the_dst_night_in_paris(engine: Any) -> None:
    """Clocks go back on 25 Oct 2026 in Paris: that day is 25 hours long. Midnights are
    24 Oct 22:00 UTC (CEST), 25 Oct 22:00 UTC would be 23:00 local, 25 Oct 23:00 UTC."""
    paris = ZoneInfo("Europe/Paris")
    engine.move_to(datetime(2026, 10, 24, 12, 0, tzinfo=paris))
    engine.set_timezone("Europe/Paris")
    journey = engine.publish(split(MIDNIGHT))
    engine.track("u1", "Start")
    engine.move_to(datetime(2026, 10, 24, 21, 59, tzinfo=UTC))
    engine.run_due()
    assert engine.at(journey, "u1") == ("active", "seg", "")
    engine.move_to(datetime(2026, 10, 24, 22, 0, 1, tzinfo=UTC))  # 00:00:01 CEST 25 Oct
    engine.run_due()
    assert engine.outcome(journey, "u1", "seg") == "no"

    engine.track("u2", "Start")
    engine.move_to(datetime(2026, 10, 25, 22, 0, 1, tzinfo=UTC))  # 23:00:01 CET, not midnight
    engine.run_due()
    assert engine.at(journey, "u2") == ("active", "seg", "")
    engine.move_to(datetime(2026, 10, 25, 23, 0, 1, tzinfo=UTC))  # 00:00:01 CET 26 Oct
    engine.run_due()
    assert engine.outcome(journey, "u2", "seg") == "no"


def test_inside_on_the_spring_dst_night_in_new_york(engine: Any) -> None:
    """8 Mar 2026: New York moves to EDT; midnights are 05:00 UTC before, 04:00 UTC after."""
    ny = ZoneInfo("America/New_York")
    engine.move_to(datetime(2026, 3, 7, 12, 0, tzinfo=ny))
    engine.set_timezone("America/New_York")
    journey = engine.publish(split(MIDNIGHT))
    engine.track("u1", "Start")
    engine.move_to(datetime(2026, 3, 8, 5, 0, 1, tzinfo=UTC))  # 00:00:01 EST 8 Mar
    engine.run_due()
    assert engine.outcome(journey, "u1", "seg") == "no"
    engine.track("u2", "Start")
    engine.move_to(datetime(2026, 3, 9, 3, 59, tzinfo=UTC))  # 23:59 EDT 8 Mar
    engine.run_due()
    assert engine.at(journey, "u2") == ("active", "seg", "")
    engine.move_to(datetime(2026, 3, 9, 4, 0, 1, tzinfo=UTC))  # 00:00:01 EDT 9 Mar
    engine.run_due()
    assert engine.outcome(journey, "u2", "seg") == "no"


def test_inside_the_daily_command_runs_the_evaluation_now(engine: Any) -> None:
    journey = engine.publish(split(MIDNIGHT))
    engine.track("u1", "Start")
    engine.track("u1", "Charged")
    engine.run_daily()
    assert engine.at(journey, "u1") == ("exited", "y", "completed")


def test_inside_on_arrival_does_not_wait_for_midnight(engine: Any) -> None:
    block = pb({"kind": "did", "event": "Charged"}, window_days=1, evaluate="on_arrival")
    journey = engine.publish(split(block))
    engine.track("u1", "Charged")
    engine.track("u1", "Start")
    assert engine.at(journey, "u1") == ("exited", "y", "completed")
    engine.track("u2", "Start")
    assert engine.at(journey, "u2") == ("exited", "n", "completed")


def test_inside_midnight_window_is_counted_back_from_midnight(engine: Any) -> None:
    journey = engine.publish(split(MIDNIGHT))
    engine.track("u1", "Start")
    engine.track("u1", "Charged")  # 10:00 on 28 Nov: 14 hours before the run
    engine.until_midnight()
    assert engine.outcome(journey, "u1", "seg") == "yes"
