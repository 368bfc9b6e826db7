"""Identify folds an anonymous visitor into a profile (engine/services.py
``profile_identify``): the visitor's web push subscriptions (and push tokens) join the
identified profile's with no endpoint twice, and its frequency-cap counts are added to the
identified profile's, so a cap still holds across the merge (issue 10). Both in the merge's
transaction; a repeated identify changes nothing; two at once merge once (PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from rest_framework.test import APIClient

from engine import delivery, limits
from engine.channels import Result, sms
from engine.channels.web_push import MAX_SUBSCRIPTIONS
from engine.delivery import deliver_message
from engine.models import FrequencyCount, Message, Profile, ProfileAlias, Project
from engine.services import push_tokens_merged
from tests.engine.delivery.conftest import MakeMessage
from tests.engine.delivery.test_limits import FakeTwilio
from tests.engine.delivery.test_web_push import Browser
from tests.engine.test_ingest_concurrency import run_together
from tests.factories import ProfileFactory

THURSDAY = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
MONDAY = date(2026, 11, 30)
SMS = {"to": "+15550100", "body": "Hi"}


@pytest.fixture
def twilio(settings: Any, monkeypatch: pytest.MonkeyPatch) -> FakeTwilio:
    fake = FakeTwilio()
    settings.JOURNEYS_SMS_BACKEND = "twilio"
    monkeypatch.setitem(sms.BACKENDS, "twilio", fake)
    return fake


@pytest.fixture
def shop(make_message: MakeMessage) -> Project:
    return Project.objects.get(name="Shop")  # the project of make_message's rows


def pair(project: Project) -> tuple[Profile, Profile]:
    anon = ProfileFactory(project=project, external_id="anon-1", anonymous=True)
    known = ProfileFactory(project=project, external_id="u-42")
    return anon, known


def client(project: Project, key: str = "ingest") -> APIClient:
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=f"Bearer {project.sdk_key if key == 'sdk' else project.ingest_key}"
    )
    return api


def identify(project: Project) -> dict[str, Any]:
    response = client(project).post(
        "/api/v1/identify", {"profile_id": "u-42", "anonymous_id": "anon-1"}, format="json"
    )
    assert response.status_code == 200, response.content
    return dict(response.json())


def counts(profile_id: int) -> dict[tuple[str, str, date], int]:
    return {
        (c.channel, c.period, c.starts_on): c.count
        for c in FrequencyCount.objects.filter(profile_id=profile_id)
    }


def set_counts(profile: Profile, values: dict[tuple[str, str, date], int]) -> None:
    for (channel, period, starts_on), n in values.items():
        FrequencyCount.objects.create(
            profile=profile, channel=channel, period=period, starts_on=starts_on, count=n
        )


def endpoints(profile: Profile) -> list[str]:
    profile.refresh_from_db()
    return [t["token"] for t in profile.push_tokens if t["platform"] == "web"]


# --- web push subscriptions --------------------------------------------------------------


@pytest.mark.django_db
def test_a_browser_subscribed_while_anonymous_gets_the_identified_profiles_web_push(
    shop: Project,
) -> None:
    anon, known = pair(shop)
    laptop = Browser.new("https://fcm.googleapis.com/fcm/send/laptop")
    phone = Browser.new("https://updates.push.services.mozilla.com/wpush/v2/phone")
    # The identified profile already has the phone's browser and a mobile app token.
    known.push_tokens = [
        {"platform": "android", "token": "fcm-device-1"},
        {**phone.token(), "subscribed_at": "2026-12-01T09:00:00+00:00"},
    ]
    known.save()
    # The visitor subscribed on the laptop and, later, on the phone again.
    sdk = client(shop, "sdk")
    with time_machine.travel(THURSDAY, tick=False):
        for browser in (laptop, phone):
            body = {"profile_id": "anon-1", "subscription": browser.subscription()}
            answer = sdk.post("/api/v1/web-push/subscriptions", body, format="json")
            assert answer.status_code == 201, answer.content

    assert identify(shop)["merged"] is True

    known.refresh_from_db()
    assert not Profile.objects.filter(pk=anon.pk).exists()
    assert known.push_tokens[0] == {"platform": "android", "token": "fcm-device-1"}
    assert sorted(endpoints(known)) == sorted([laptop.endpoint, phone.endpoint])
    # One entry per endpoint: the newer subscription of the phone's browser.
    [phone_entry] = [t for t in known.push_tokens if t["token"] == phone.endpoint]
    assert phone_entry["subscribed_at"] == THURSDAY.isoformat()
    assert phone_entry["keys"] == phone.subscription()["keys"]
    # A web push to the identified profile now goes to both browsers.
    from engine.channels.web_push import subscriptions

    tokens = [t for t in known.push_tokens if t.get("platform") == "web"]
    assert sorted(s["endpoint"] for s in subscriptions({"tokens": tokens})) == sorted(
        [laptop.endpoint, phone.endpoint]
    )


def test_the_merged_list_keeps_the_newest_browsers_and_is_the_same_when_merged_again() -> None:
    def web(n: int) -> dict[str, Any]:
        at = (THURSDAY - timedelta(days=30 - n)).isoformat()
        return {"platform": "web", "token": f"https://push.example/{n}", "subscribed_at": at}

    kept = [web(n) for n in range(0, 20, 2)]  # 10 browsers, the even ones
    added = [web(n) for n in range(1, 20, 2)] + [{"platform": "ios", "token": "apns-1"}]

    merged = push_tokens_merged(kept, added)

    assert merged[0] == {"platform": "ios", "token": "apns-1"}
    assert [t["token"] for t in merged[1:]] == [f"https://push.example/{n}" for n in range(10, 20)]
    assert len(merged) == 1 + MAX_SUBSCRIPTIONS
    assert push_tokens_merged(merged, []) == merged
    assert push_tokens_merged(merged, merged) == merged
    assert push_tokens_merged([], None) == []


# --- frequency-cap counts ------------------------------------------------------------------


@pytest.mark.django_db
def test_counts_are_added_per_channel_period_and_start(shop: Project) -> None:
    anon, known = pair(shop)
    thursday, friday = date(2026, 12, 3), date(2026, 12, 4)
    set_counts(
        anon,
        {
            ("sms", "day", thursday): 2,
            ("sms", "week", MONDAY): 2,
            ("email", "day", friday): 1,  # only the visitor has this one
            ("push", "day", thursday): 0,  # a slot given back: nothing to add
        },
    )
    set_counts(
        known,
        {
            ("sms", "day", thursday): 1,
            ("sms", "week", MONDAY): 3,
            ("in_app", "week", MONDAY): 4,  # only the identified profile has this one
        },
    )

    identify(shop)

    assert counts(anon.pk) == {}
    assert counts(known.pk) == {
        ("sms", "day", thursday): 3,
        ("sms", "week", MONDAY): 5,
        ("email", "day", friday): 1,
        ("in_app", "week", MONDAY): 4,
    }


@pytest.mark.django_db
def test_a_cap_holds_across_the_merge(
    shop: Project, make_message: MakeMessage, twilio: FakeTwilio
) -> None:
    anon, known = pair(shop)
    limits.limits_set(project=shop, frequency_caps={"sms": {"day": 2}})
    with time_machine.travel(THURSDAY, tick=False):
        # One SMS to the visitor and one to the identified profile today: each at 1 of 2.
        for profile in (anon, known):
            sent = deliver_message(make_message("sms", SMS, profile=profile).pk)
            assert sent is not None
            assert sent.status == "sent"

        identify(shop)

        third = deliver_message(make_message("sms", SMS, profile=known).pk)
    assert third is not None
    assert third.status == "skipped"
    assert third.error == "frequency cap: 2 SMS per day reached"
    assert len(twilio.calls) == 2


# --- the merge as a whole -----------------------------------------------------------------


def dressed(project: Project) -> tuple[Profile, Profile]:
    anon, known = pair(project)
    anon.push_tokens = [
        {"platform": "web", "token": "https://push.example/a", "subscribed_at": "2026-12-02"},
        {"platform": "web", "token": "https://push.example/b", "subscribed_at": "2026-12-02"},
    ]
    anon.save()
    known.push_tokens = [
        {"platform": "web", "token": "https://push.example/b", "subscribed_at": "2026-12-01"}
    ]
    known.save()
    set_counts(anon, {("sms", "day", date(2026, 12, 3)): 2, ("sms", "week", MONDAY): 2})
    set_counts(known, {("sms", "day", date(2026, 12, 3)): 1})
    return anon, known


MERGED_COUNTS = {("sms", "day", date(2026, 12, 3)): 3, ("sms", "week", MONDAY): 2}


@pytest.mark.django_db
def test_a_repeated_identify_changes_nothing(shop: Project) -> None:
    _anon, known = dressed(shop)
    identify(shop)
    known.refresh_from_db()
    first = (known.push_tokens, counts(known.pk))

    assert identify(shop)["merged"] is False

    known.refresh_from_db()
    assert (known.push_tokens, counts(known.pk)) == first
    assert counts(known.pk) == MERGED_COUNTS
    assert sorted(endpoints(known)) == ["https://push.example/a", "https://push.example/b"]
    assert {t["subscribed_at"] for t in known.push_tokens} == {"2026-12-02"}  # the newer b


@pytest.mark.django_db
def test_a_merge_that_fails_later_leaves_both_profiles_as_they_were(
    shop: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    anon, known = dressed(shop)
    before = (counts(anon.pk), counts(known.pk), anon.push_tokens, known.push_tokens)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    # The last write of the merge, after the counts and tokens moved.
    monkeypatch.setattr(ProfileAlias.objects, "get_or_create", broken)
    with pytest.raises(RuntimeError):
        identify(shop)

    anon.refresh_from_db()
    known.refresh_from_db()
    assert (counts(anon.pk), counts(known.pk), anon.push_tokens, known.push_tokens) == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="real concurrent writers need PostgreSQL"
)
def test_two_identify_calls_at_once_merge_once(shop: Project) -> None:
    for _round in range(5):
        Profile.objects.filter(external_id__in=["anon-1", "u-42"]).delete()
        ProfileAlias.objects.filter(alias="anon-1").delete()
        _anon, known = dressed(shop)

        results = run_together(lambda: identify(shop), lambda: identify(shop))

        assert not [r for r in results if isinstance(r, Exception)], results
        assert sorted(r["merged"] for r in results) == [False, True], results
        assert counts(known.pk) == MERGED_COUNTS
        assert sorted(endpoints(known)) == ["https://push.example/a", "https://push.example/b"]
        assert FrequencyCount.objects.count() == 2
        assert Message.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="real concurrent writers need PostgreSQL"
)
def test_an_identify_while_workers_send_to_both_profiles_neither_deadlocks_nor_loses_a_count(
    shop: Project, make_message: MakeMessage, twilio: FakeTwilio
) -> None:
    """The merge locks the identified profile ``FOR NO KEY UPDATE``: a worker inserting a
    counter row for it (whose foreign key check takes ``FOR KEY SHARE``) no longer waits
    for the merge while holding the row the merge adds to (8 rounds of 25 deadlocked)."""
    limits.limits_set(project=shop, frequency_caps={"sms": {"day": 100}})
    for _round in range(15):
        Profile.objects.filter(external_id__in=["anon-1", "u-42"]).delete()
        ProfileAlias.objects.filter(alias="anon-1").delete()
        anon, known = pair(shop)
        messages = [make_message("sms", SMS, profile=anon) for _ in range(4)]
        messages += [make_message("sms", SMS, profile=known) for _ in range(2)]
        jobs = [lambda: identify(shop)]
        jobs += [lambda pk=m.pk: deliver_message(pk) for m in messages]

        results = run_together(*jobs)

        assert results[0] == {"profile_id": "u-42", "created": False, "merged": True}
        # A worker that read its message before the merge takes the identified profile's
        # slot (never the deleted visitor's: that failed on the foreign key and left the
        # message queued until its lease ran out), in the same attempt.
        errors = [r for r in results if isinstance(r, Exception)]
        assert not errors, errors
        sent = Message.objects.filter(pk__in=[m.pk for m in messages], status="sent").count()
        assert sent == len(messages)
        assert sum(n for (_c, period, _d), n in counts(known.pk).items() if period == "day") == sent
        assert not FrequencyCount.objects.filter(profile_id=anon.pk).exists()
        assert len(twilio.calls) == len(messages) * (_round + 1)


@pytest.mark.django_db(transaction=True)  # the counter's foreign key is checked at commit
def test_a_worker_that_read_its_message_before_the_merge_takes_the_identified_profiles_slot(
    shop: Project, make_message: MakeMessage, twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker claimed the visitor's message, then identify merged the visitor: the
    slot is the identified profile's, in its time zone (its day, not the visitor's UTC
    one), and the message goes out in this attempt."""
    anon, known = pair(shop)
    known.timezone = "America/New_York"
    known.save()
    limits.limits_set(project=shop, frequency_caps={"sms": {"day": 2, "week": 5}})
    message = make_message("sms", SMS, profile=anon)

    def merged_first(messages: list[Message]) -> list[Message]:
        assert [m.profile_id for m in messages] == [anon.pk]  # read before the merge
        identify(shop)
        return limits.gate(messages)

    monkeypatch.setattr(delivery, "gate", merged_first)
    # Friday 02:00 UTC is still Thursday evening in New York.
    with time_machine.travel(datetime(2026, 12, 4, 2, 0, tzinfo=UTC), tick=False):
        sent = deliver_message(message.pk)

    assert sent is not None
    assert (sent.status, sent.profile_id) == ("sent", known.pk)
    assert sent.delivery["cap_slots"] == {"day": "2026-12-03", "week": "2026-11-30"}
    assert counts(known.pk) == {("sms", "day", date(2026, 12, 3)): 1, ("sms", "week", MONDAY): 1}
    assert FrequencyCount.objects.count() == 2
    assert len(twilio.calls) == 1


@pytest.mark.django_db(transaction=True)
def test_a_slot_given_back_after_the_merge_is_the_identified_profiles(
    shop: Project, make_message: MakeMessage, twilio: FakeTwilio
) -> None:
    """A visitor's SMS took its slot, identify moved the count, then the send failed for
    good: the slot is given back to the identified profile, which holds the count now."""
    anon, known = pair(shop)
    limits.limits_set(project=shop, frequency_caps={"sms": {"day": 2}})
    with time_machine.travel(THURSDAY, tick=False):
        message = make_message("sms", SMS, profile=anon)
        claimed = delivery.message_claim(message.pk)
        assert claimed is not None
        assert limits.gate([claimed]) == [claimed]
        identify(shop)
        assert counts(known.pk) == {("sms", "day", date(2026, 12, 3)): 1}
        delivery._record(claimed, Result.failed("invalid number"), backend="twilio")

    assert claimed.status == "failed"
    assert counts(known.pk) == {("sms", "day", date(2026, 12, 3)): 0}
