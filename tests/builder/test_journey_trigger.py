"""Journey Trigger entries are checked against the other journeys of the same project."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework.test import APIClient

from builder import services
from builder.models import Journey
from engine.models import Project
from tests.engine.domain.examples import contract_example


def triggered_by(journey_id: Any, node: str = "push1") -> dict[str, Any]:
    definition = contract_example()
    definition["entry"] = {
        "id": "entry",
        "type": "journey_trigger",
        "journey": journey_id,
        "node": node,
    }
    return definition


def create(api: APIClient, project: Project, definition: dict[str, Any]) -> Any:
    return api.post(
        "/api/v1/journeys",
        {"project": project.pk, "name": "Follow-up", "definition": definition},
        format="json",
    )


def test_a_trigger_on_a_block_of_another_journey_of_the_project_is_accepted(
    api: APIClient, project: Project, make_journey: Callable[..., Journey]
) -> None:
    source = make_journey(status="live")

    by_string = create(api, project, triggered_by(str(source.pk)))
    by_number = create(api, project, triggered_by(source.pk))

    assert by_string.status_code == 201, by_string.json()
    assert by_number.status_code == 201, by_number.json()


def test_a_trigger_on_a_block_the_other_journey_lacks_is_refused(
    api: APIClient, project: Project, make_journey: Callable[..., Journey]
) -> None:
    source = make_journey()

    response = create(api, project, triggered_by(str(source.pk), node="nope"))

    assert response.status_code == 400
    [error] = response.json()["definition"]
    assert error["path"] == "entry.node"


def test_a_trigger_on_a_journey_of_another_project_is_refused(
    api: APIClient, project: Project, other_project: Project, make_journey: Callable[..., Journey]
) -> None:
    theirs = make_journey(in_project=other_project)

    response = create(api, project, triggered_by(str(theirs.pk)))

    assert response.status_code == 400
    [error] = response.json()["definition"]
    assert error["path"] == "entry.journey"
    assert "does not exist" in error["message"]


def test_a_trigger_on_a_journey_that_does_not_exist_is_refused(
    api: APIClient, project: Project
) -> None:
    for missing in ("999999", "abc", "99999999999999999999999"):
        response = create(api, project, triggered_by(missing))
        assert response.status_code == 400
        assert response.json()["definition"][0]["path"] == "entry.journey"


def test_a_journey_cannot_be_triggered_by_itself(
    api: APIClient, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey()

    response = api.patch(
        f"/api/v1/journeys/{journey.pk}",
        {"definition": triggered_by(str(journey.pk))},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["definition"][0]["path"] == "entry.journey"


def test_a_published_journey_offers_the_blocks_of_its_live_version_not_its_draft(
    api: APIClient, project: Project, make_journey: Callable[..., Journey]
) -> None:
    extra = contract_example()
    extra["nodes"].append({"id": "extra", "type": "sms", "body": "hi"})
    extra["edges"].append({"from": "mail", "to": "extra"})
    draft = make_journey(definition=extra)
    live = make_journey(status="live")
    Journey.objects.filter(pk=live.pk).update(definition=extra, definition_text="")

    on_draft = create(api, project, triggered_by(str(draft.pk), node="extra"))
    on_live = create(api, project, triggered_by(str(live.pk), node="extra"))

    assert on_draft.status_code == 201
    assert on_live.status_code == 400
    assert on_live.json()["definition"][0]["path"] == "entry.node"


def test_publish_rechecks_the_trigger_when_the_other_journey_changed(
    project: Project, make_journey: Callable[..., Journey], marketer: Any
) -> None:
    import pytest

    from engine.domain import DefinitionInvalid

    source = make_journey()
    follow_up = make_journey(definition=triggered_by(str(source.pk), node="mail"))
    shorter = contract_example()
    shorter["nodes"] = shorter["nodes"][:3]
    shorter["edges"] = shorter["edges"][:3]
    services.journey_update(journey=source, user=marketer, definition=shorter)

    with pytest.raises(DefinitionInvalid) as raised:
        services.journey_publish(journey=follow_up, user=marketer)

    assert raised.value.errors[0].path == "entry.node"
