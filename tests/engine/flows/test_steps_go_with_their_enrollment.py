"""The step log belongs to its enrollment: it follows a profile merge and goes when the
enrollment is deleted, whatever deletes it (steps carry no database foreign keys; see
engine/models.py Step and migration 0007)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from engine import services
from engine.ingest import parse_identify
from engine.models import Enrollment, Profile, Step

from .conftest import START, define, delay

pytestmark = pytest.mark.django_db(transaction=True)


def _journey(engine):  # type: ignore[no-untyped-def]
    return engine.publish(define(START, [delay("wait", "PT1H")], [("entry", "wait")]))


def test_deleting_a_profile_deletes_its_enrollments_and_their_steps(engine) -> None:  # type: ignore[no-untyped-def]
    journey = _journey(engine)
    engine.track("u1", "Start")
    engine.track("u2", "Start")
    engine.advance(hours=1)
    u1 = Profile.objects.get(project=engine.project, external_id="u1")
    assert Step.objects.filter(profile=u1).count() >= 2

    u1.delete()

    assert not Enrollment.objects.filter(profile_id=u1.pk).exists()
    assert not Step.objects.filter(profile_id=u1.pk).exists()
    assert engine.path(journey, "u2")  # the other user's history is untouched


def test_a_raw_delete_of_enrollments_takes_their_steps(engine) -> None:  # type: ignore[no-untyped-def]
    journey = _journey(engine)
    engine.track("u1", "Start")
    engine.track("u2", "Start")
    gone = engine.enrollment(journey, "u1")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM engine_enrollment WHERE id = %s", [gone.pk])
    assert not Step.objects.filter(enrollment_id=gone.pk).exists()
    assert Step.objects.exclude(enrollment_id=gone.pk).exists()


def test_a_step_written_while_a_delete_is_under_way_goes_too(engine) -> None:  # type: ignore[no-untyped-def]
    """Django's cascade deletes the steps it found, then the enrollments; a step committed
    in between (the engine moving the user) must not outlive its enrollment."""
    journey = _journey(engine)
    engine.track("u1", "Start")
    enrollment = engine.enrollment(journey, "u1")
    with transaction.atomic():
        Step.objects.filter(enrollment=enrollment).delete()  # the cascade's first statement
        Step.objects.create(  # what a concurrent move would have committed by now
            enrollment=enrollment,
            journey=journey,
            profile_id=enrollment.profile_id,
            version_number=1,
            node="wait",
            visit=99,
            entered_at=enrollment.entered_at,
        )
        Enrollment.objects.filter(pk=enrollment.pk)._raw_delete(using="default")
    assert not Step.objects.filter(enrollment_id=enrollment.pk).exists()


def test_merging_an_anonymous_visitor_moves_its_steps_to_the_identified_profile(engine) -> None:  # type: ignore[no-untyped-def]
    journey = _journey(engine)
    engine.track("anon-1", "Start")
    anon = Profile.objects.get(project=engine.project, external_id="anon-1")
    steps = set(Step.objects.filter(profile=anon).values_list("id", flat=True))
    assert steps

    with transaction.atomic():
        services.profile_identify(
            project=engine.project,
            record=parse_identify({"profile_id": "u-42", "anonymous_id": "anon-1"}),
        )

    target = Profile.objects.get(project=engine.project, external_id="u-42")
    assert set(Step.objects.filter(profile=target).values_list("id", flat=True)) == steps
    assert engine.enrollment(journey, "u-42").profile_id == target.pk
