"""Published versions: numbering, immutability, no-op publishes, edits of live journeys."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from builder import services
from builder.models import Journey, JourneyVersion
from tests.engine.domain.examples import contract_example


def longer_wait(minutes: int) -> dict[str, Any]:
    definition = contract_example()
    definition["nodes"][0]["duration"] = f"PT{minutes}M"
    return definition


def test_first_publish_writes_version_1_with_the_draft(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey()

    body = api.post(f"/api/v1/journeys/{journey.pk}/publish").json()

    assert (body["version"], body["live_version"], body["has_unpublished_changes"]) == (1, 1, False)
    version = JourneyVersion.objects.get(journey=journey)
    assert version.number == 1
    assert version.definition == contract_example()
    assert version.in_flight == {}


def test_publishing_a_draft_equal_to_the_live_version_is_a_no_op(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey(status="live")
    before = Journey.objects.get(pk=journey.pk)

    response = api.post(f"/api/v1/journeys/{journey.pk}/publish")

    assert response.status_code == 200
    assert response.json()["live_version"] == 1
    assert response.json()["revision"] == before.revision
    assert JourneyVersion.objects.filter(journey=journey).count() == 1


@pytest.mark.parametrize("status", ["live", "paused"])
def test_editing_the_definition_of_a_published_journey_publishes_a_new_version_at_once(
    api: APIClient, make_journey: Callable[..., Journey], status: str
) -> None:
    journey = make_journey(status=status)

    response = api.put(
        f"/api/v1/journeys/{journey.pk}",
        {"name": "Cart", "definition": longer_wait(30)},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["version"], body["live_version"]) == (status, 2, 2)
    assert body["has_unpublished_changes"] is False
    assert body["name"] == "Cart"
    assert JourneyVersion.objects.get(journey=journey, number=2).definition == longer_wait(30)


def test_versions_are_numbered_in_order_and_listed_with_the_live_one_marked(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey(status="live")
    for minutes in (30, 40):
        api.patch(
            f"/api/v1/journeys/{journey.pk}", {"definition": longer_wait(minutes)}, format="json"
        )

    listing = api.get(f"/api/v1/journeys/{journey.pk}/versions").json()
    second = api.get(f"/api/v1/journeys/{journey.pk}/versions/2").json()
    missing = api.get(f"/api/v1/journeys/{journey.pk}/versions/9")

    assert [(v["number"], v["is_live"]) for v in listing] == [(1, False), (2, False), (3, True)]
    assert listing[0]["created_by"] == "ana"
    assert "definition" not in listing[0]
    assert second["definition"] == longer_wait(30)
    assert second["in_flight"]["from_version"] == 1
    assert missing.status_code == 404


def test_a_published_version_cannot_be_changed(make_journey: Callable[..., Journey]) -> None:
    journey = make_journey(status="live")
    version = JourneyVersion.objects.get(journey=journey)
    version.definition = longer_wait(99)

    with pytest.raises(ValueError, match="immutable"):
        version.save()


def test_unpublished_changes_show_as_the_next_version_number(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey(status="live")
    # A working copy that differs from the live version (as the engine's tools might write).
    Journey.objects.filter(pk=journey.pk).update(definition=longer_wait(45), definition_text="")

    pending = api.get(f"/api/v1/journeys/{journey.pk}").json()
    published = api.post(f"/api/v1/journeys/{journey.pk}/publish").json()

    assert (pending["version"], pending["live_version"]) == (2, 1)
    assert pending["has_unpublished_changes"] is True
    assert (published["version"], published["live_version"]) == (2, 2)
    assert published["has_unpublished_changes"] is False


def test_renaming_a_live_journey_publishes_nothing(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey(status="live")

    body = api.patch(f"/api/v1/journeys/{journey.pk}", {"name": "New name"}, format="json").json()

    assert (body["name"], body["live_version"]) == ("New name", 1)
    assert JourneyVersion.objects.filter(journey=journey).count() == 1


def test_a_block_renamed_only_is_an_edit_that_still_publishes_a_version(
    make_journey: Callable[..., Journey],
) -> None:
    journey = make_journey(status="live")
    definition = contract_example()
    definition["nodes"][1]["name"] = "First push"

    journey = services.journey_update(journey=journey, user=None, definition=definition)

    assert journey.live_version is not None
    assert journey.live_version.number == 2
    assert journey.live_version.in_flight["unchanged"]["nodes"] == [
        "entry",
        "wait",
        "push1",
        "paid",
        "mail",
    ]


@pytest.mark.skipif(not settings.DATABASE_IS_POSTGRES, reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_publishers_never_write_the_same_version_number(
    make_journey: Callable[..., Journey],
) -> None:
    journey = make_journey(status="live")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def publish(minutes: int) -> None:
        try:
            barrier.wait()
            services.journey_update(journey=journey, user=None, definition=longer_wait(minutes))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish, args=(m,)) for m in (21, 22, 23, 24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    numbers = list(
        JourneyVersion.objects.filter(journey=journey)
        .order_by("number")
        .values_list("number", flat=True)
    )
    assert numbers == [1, 2, 3, 4, 5]
    journey.refresh_from_db()
    assert journey.live_version is not None
    assert journey.live_version.number == 5
