"""Property tests: any definition, template or ingest payload is refused cleanly or accepted, never a crash."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from engine.domain import DefinitionInvalid, parse_definition, validate
from engine.domain.bounds import bounds_errors
from engine.domain.templates import TemplateError, render, template_errors
from journeys_site.parsers import JsonBodyInvalid, loads
from tests.engine.domain.examples import contract_example

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=25,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


EXAMPLE = contract_example()
EXAMPLE_PATHS = _paths(EXAMPLE)[1:]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(EXAMPLE_PATHS), json_values)
def test_a_definition_with_any_value_anywhere_validates_without_crashing(
    path: tuple[Any, ...], value: Any
) -> None:
    definition = copy.deepcopy(EXAMPLE)
    target: Any = definition
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    assert isinstance(bounds_errors(definition), list)
    errors = validate(definition)
    if errors:
        with pytest.raises(DefinitionInvalid) as caught:
            parse_definition(definition)
        assert caught.value.errors == errors
    else:
        parse_definition(definition)


LIQUID_PIECES = st.sampled_from(
    [
        "{{", "}}", "{%", "%}", " ", "a", "x.y", "|", "append:", "join", "split:", "','",
        "(1..5)", "(1..99999999)", "for", "in", "endfor", "if", "endif", "assign", "=",
        "capture", "endcapture", "raw", "endraw", "include", "'t'", "times:", "99999999",
        "-", "\n", "[", "]", "(", ")", "upcase", "size", "default:", "'d'",
    ]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(LIQUID_PIECES, max_size=40).map("".join))
def test_any_template_is_either_an_error_message_or_renders_within_bounds(source: str) -> None:
    problem = template_errors(source)
    if problem is not None:
        assert isinstance(problem, str)
        return
    try:
        output = render(source, {"a": "x", "x": {"y": [1, 2]}})
    except TemplateError:
        return
    assert len(output) <= 1_000_000


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_the_body_parser_returns_a_value_or_a_clean_error(body: bytes) -> None:
    problem: JsonBodyInvalid | None = None
    try:
        loads(body, max_depth=8)
    except JsonBodyInvalid as exc:
        problem = exc
    if problem is not None:
        assert problem.status in (400, 413)
        assert problem.message


event_fields = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "profile_id": st.text(max_size=300) | json_values,
        "name": st.text(max_size=300) | json_values,
        "ts": st.datetimes().map(lambda d: d.isoformat() + "Z") | json_values,
        "properties": json_values,
    },
)
profile_fields = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=10)},
    optional={
        "email": st.emails() | json_values,
        "phone": st.from_regex(r"\+[0-9]{7,15}", fullmatch=True) | json_values,
        "timezone": st.sampled_from(["UTC", "Europe/Paris", "Mars/Base"]) | json_values,
        "push_tokens": json_values,
        "properties": json_values,
    },
)


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.sampled_from(["/api/v1/events", "/api/v1/profiles", "/api/v1/identify"]),
    st.lists(event_fields | profile_fields, min_size=1, max_size=3),
)
def test_any_ingest_payload_is_stored_or_refused_with_a_400(
    ingest: APIClient, url: str, items: list[dict[str, Any]]
) -> None:
    if url.endswith("events"):
        payload: Any = {"events": items}
    elif url.endswith("profiles"):
        payload = {"profiles": items}
    else:
        payload = {**items[0], "profile_id": items[0].get("id", "u")}
    body = json.dumps(payload, allow_nan=True)
    response = ingest.generic("POST", url, body, content_type="application/json")
    assert response.status_code in (200, 202, 400), response.content[:300]
