"""Frequency caps and quiet hours in a live journey, from ingest to the outbox, and the
reasons in plain words on the profile's timeline and the campaign details."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from engine import limits
from engine.models import Message, Profile
from tests.engine.flows.conftest import START, define, sms

pytestmark = pytest.mark.django_db

NIGHT_SKIP = {**sms("late", "Flash sale"), "quiet_hours": "skip"}


def journey_def() -> dict[str, Any]:
    # "hello" holds in quiet hours (the default), "late" skips.
    return define(START, [sms("hello"), NIGHT_SKIP], [("entry", "hello"), ("hello", "late")])


def _message(journey: Any, node: str, profile_id: str) -> Message:
    return Message.objects.get(journey=journey, node=node, profile__external_id=profile_id)


def test_a_cap_skips_the_second_sms_of_the_day_with_its_reason(engine: Any) -> None:
    limits.limits_set(project=engine.project, frequency_caps={"sms": {"day": 1}})
    journey = engine.publish(journey_def())
    Profile.objects.create(project=engine.project, external_id="ana", phone="+15550100")
    engine.track("ana", "Start")
    engine.run_due()

    assert _message(journey, "hello", "ana").status == "recorded"  # no SMS provider here
    late = _message(journey, "late", "ana")
    assert (late.status, late.error) == ("skipped", "frequency cap: 1 SMS per day reached")

    client = Client()
    client.force_login(engine.user)
    timeline = client.get("/profiles/ana/").content.decode()
    assert "frequency cap: 1 SMS per day reached" in timeline
    campaign = client.get(f"/journeys/{journey.pk}/blocks/late/campaign").content.decode()
    assert "Skipped and held" in campaign
    assert "frequency cap: 1 SMS per day reached" in campaign


def test_quiet_hours_hold_one_block_and_skip_the_other_in_the_user_s_night(
    engine: Any,
) -> None:
    limits.limits_set(project=engine.project, quiet_hours={"start": "21:00", "end": "08:00"})
    journey = engine.publish(journey_def())
    Profile.objects.create(
        project=engine.project, external_id="bo", phone="+15550101", timezone="America/New_York"
    )
    # 02:30 UTC on 29 Nov is 21:30 on 28 Nov in New York, the user's zone (UTC here).
    engine.move_to(datetime(2026, 11, 29, 2, 30, tzinfo=UTC))
    engine.track("bo", "Start")
    engine.run_due()

    hello = _message(journey, "hello", "bo")
    assert hello.status == "queued"
    assert hello.next_attempt_at == datetime(2026, 11, 29, 13, 0, tzinfo=UTC)  # 08:00 EST
    late = _message(journey, "late", "bo")
    assert (late.status, late.error) == (
        "skipped",
        "skipped for quiet hours (21:00-08:00 America/New_York)",
    )

    client = Client()
    client.force_login(engine.user)
    held = "eld for quiet hours until 2026-11-29 08:00 America/New_York"
    assert held in client.get("/profiles/bo/").content.decode()
    campaign = client.get(f"/journeys/{journey.pk}/blocks/hello/campaign").content.decode()
    assert "1 message held for the project's quiet hours now" in campaign
    skipped = client.get(f"/journeys/{journey.pk}/blocks/late/campaign").content.decode()
    assert "skipped for quiet hours (21:00-08:00 America/New_York)" in skipped

    engine.move_to(datetime(2026, 11, 29, 12, 59, tzinfo=UTC))
    engine.run_due_work_command()
    assert _message(journey, "hello", "bo").status == "queued"
    engine.move_to(datetime(2026, 11, 29, 13, 0, tzinfo=UTC))
    engine.run_due_work_command()
    hello = _message(journey, "hello", "bo")
    assert hello.status == "recorded"
    assert hello.delivery["log"][0]["outcome"] == "held"
    assert held in client.get("/profiles/bo/").content.decode()  # the hold stays on record


def test_the_block_s_quiet_hours_choice_is_a_field_of_the_message_kinds() -> None:
    from engine.domain import block_type

    for kind in ("email", "sms", "push", "web_push"):
        spec = {f.name: f for f in block_type(kind).fields}["quiet_hours"]  # type: ignore[union-attr]
        assert spec.choices == ("hold", "skip")
        assert spec.default == "hold"
    assert "quiet_hours" not in {f.name for f in block_type("webhook").fields}  # type: ignore[union-attr]
    assert "quiet_hours" not in {f.name for f in block_type("in_app").fields}  # type: ignore[union-attr]


def test_the_messages_api_says_why_a_message_was_held(engine: Any) -> None:
    from tests.conftest import client_for

    limits.limits_set(project=engine.project, quiet_hours={"start": "00:00", "end": "23:00"})
    journey = engine.publish(journey_def())
    Profile.objects.create(project=engine.project, external_id="cy", phone="+15550102")
    engine.track("cy", "Start")  # 10:00 UTC, the profile has no zone: the project's (UTC)
    engine.run_due()

    body = client_for(engine.user).get(f"/api/v1/journeys/{journey.pk}/messages").json()
    by_node = {m["node"]: m for m in body["results"]}
    assert by_node["hello"]["status"] == "queued"
    assert by_node["hello"]["held"].startswith("held for quiet hours until 2026-11-28 23:00 UTC")
    assert by_node["hello"]["next_attempt_at"] == "2026-11-28T23:00:00Z"
    assert by_node["late"]["held"] == ""
    assert by_node["late"]["error"] == "skipped for quiet hours (00:00-23:00 UTC)"
