"""Issue 12 item 3: a Past Behaviour journey's start enters its users in batches, each
its own transaction, and a check killed mid-start resumes without entering anyone twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from engine import entries
from engine.models import Enrollment, Step
from engine.work import run_inline
from tests.engine.flows.conftest import entry_only

pytestmark = pytest.mark.django_db

WATCHED = {
    "type": "past_behaviour",
    "window_days": 30,
    "match": "all",
    "conditions": [{"kind": "did", "event": "Video Watched"}],
}
PEOPLE = [f"u{i}" for i in range(7)]


@pytest.fixture
def watchers(engine: Any) -> Any:
    for pid in PEOPLE:
        engine.track_at(pid, "Video Watched", timezone.now() - timedelta(hours=2))
    engine.profile("idle")
    return engine


def stays(journey: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in Enrollment.objects.filter(journey=journey).select_related("profile"):
        out[e.profile.external_id] = out.get(e.profile.external_id, 0) + 1
    return out


def spy_on_enroll(monkeypatch: pytest.MonkeyPatch, *, fail_at: int = 0) -> list[int]:
    """The sizes of the batches entered; the ``fail_at``-th batch raises (a killed worker)."""
    enroll = entries.enroll
    sizes: list[int] = []

    def spy(*args: Any, **kwargs: Any) -> list[int]:
        sizes.append(len(args[1]))
        if len(sizes) == fail_at:
            raise RuntimeError("worker killed")
        return enroll(*args, **kwargs)

    monkeypatch.setattr(entries, "enroll", spy)
    return sizes


def test_a_start_killed_mid_way_resumes_without_entering_anyone_twice(
    watchers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = watchers
    monkeypatch.setattr(entries, "ENTRY_BATCH", 2)
    enroll = entries.enroll
    spy_on_enroll(monkeypatch, fail_at=3)
    # Re-entry allowed and users completing at once (entry -> sms -> end): without the
    # resume rule, a rerun would enter the first batches' users a second time.
    journey = engine.publish(entry_only(WATCHED, allow_reentry=True))
    with pytest.raises(RuntimeError, match="worker killed"):
        engine.run_due()
    # Each batch committed on its own: the two before the crash are in, and done.
    assert stays(journey) == dict.fromkeys(PEOPLE[:4], 1)
    assert all(e.state == "exited" for e in Enrollment.objects.filter(journey=journey))

    # The task is redelivered a little later (acks_late): the same check runs again.
    monkeypatch.setattr(entries, "enroll", enroll)
    engine.clock.shift(timedelta(seconds=30))
    with engine._capture(execute=True):
        assert run_inline("entry_check", (journey.id,)) == 3
    assert stays(journey) == dict.fromkeys(PEOPLE, 1)
    entered_at = set(
        Enrollment.objects.filter(journey=journey).values_list("entered_at", flat=True)
    )
    assert len(entered_at) == 1  # one check, one moment, across both runs
    assert Step.objects.filter(journey=journey, node="entry").count() == len(PEOPLE)

    # Run once more (a duplicate delivery): nobody new.
    with engine._capture(execute=True):
        assert run_inline("entry_check", (journey.id,)) == 0
    # The next day's check is a new moment: with re-entry, everyone enters again, once.
    engine.advance(days=1)
    assert stays(journey) == dict.fromkeys(PEOPLE, 2)


def test_the_entry_check_enters_in_batches_of_its_own_transactions(
    watchers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = watchers
    monkeypatch.setattr(entries, "ENTRY_BATCH", 3)
    sizes = spy_on_enroll(monkeypatch)
    journey = engine.publish(entry_only(WATCHED))
    engine.run_due()
    assert sizes == [3, 3, 1]
    assert stays(journey) == dict.fromkeys(PEOPLE, 1)
    assert engine.path(journey, "u0") == [("entry", "yes"), ("hello", "next")]
