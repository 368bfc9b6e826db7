"""The project limits API: frequency caps and quiet hours (docs/api.md "Limits")."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from django.test import Client

from engine import limits

pytestmark = pytest.mark.django_db

LIMITS = {
    "frequency_caps": {"email": {"day": 3, "week": 10}, "sms": {"day": 1}},
    "quiet_hours": {"start": "21:00", "end": "08:00"},
}


def _url(project: Any) -> str:
    return f"/api/v1/projects/{project.pk}/limits"


def test_a_new_project_has_no_limits(api: Any, project: Any) -> None:
    response = api.get(_url(project))
    assert response.status_code == 200
    assert response.json() == {"frequency_caps": {}, "quiet_hours": None}


def test_an_admin_sets_limits_and_every_member_reads_them(
    api: Any, viewer_api: Any, project: Any
) -> None:
    response = api.put(_url(project), LIMITS, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == LIMITS
    assert viewer_api.get(_url(project)).json() == LIMITS
    assert limits.limits_get(project).caps == {"email": {"day": 3, "week": 10}, "sms": {"day": 1}}


def test_patch_changes_one_part_and_put_replaces_all(api: Any, project: Any) -> None:
    api.put(_url(project), LIMITS, format="json")
    patched = api.patch(_url(project), {"quiet_hours": None}, format="json")
    assert patched.json() == {**LIMITS, "quiet_hours": None}
    replaced = api.put(
        _url(project), {"quiet_hours": {"start": "22:00", "end": "07:30"}}, format="json"
    )
    assert replaced.json() == {
        "frequency_caps": {},
        "quiet_hours": {"start": "22:00", "end": "07:30"},
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"frequency_caps": {"email": {"day": 0}}}, "frequency_caps.email.day"),
        ({"frequency_caps": {"fax": {"day": 1}}}, "frequency_caps.fax"),
        ({"quiet_hours": {"start": "9pm", "end": "08:00"}}, "quiet_hours.start"),
        ({"caps": {}}, "caps"),
    ],
)
def test_bad_input_is_a_400_naming_what_and_where(
    api: Any, project: Any, body: dict[str, Any], field: str
) -> None:
    response = api.patch(_url(project), body, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == [field]
    assert errors[field][0]
    assert limits.limits_get(project).empty  # nothing stored


def test_only_admins_change_limits_and_outsiders_see_nothing(
    viewer_api: Any, other_api: Any, project: Any
) -> None:
    assert viewer_api.put(_url(project), LIMITS, format="json").status_code == 403
    assert other_api.get(_url(project)).status_code == 404
    assert limits.limits_get(project).empty


def test_the_schema_documents_the_limits_endpoint() -> None:
    schema = yaml.safe_load(Client().get("/api/schema/").content)
    path = schema["paths"]["/api/v1/projects/{project_id}/limits"]
    assert {"get", "put", "patch"} <= set(path)
    assert "frequency_caps.email.day" in str(path["put"])
