"""The raw-body scan that lets ingest skip per-value checks never misses an unstorable value."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ingest import _check_json, needs_value_check

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_a_body_the_scan_clears_holds_only_storable_values(value: object) -> None:
    body = json.dumps({"events": [{"properties": {"v": value}}]}).encode()
    if not needs_value_check(body):
        assert _check_json(json.loads(body))


@pytest.mark.parametrize(
    "text",
    [
        '{"v": NaN}',
        '{"v": -Infinity}',
        '{"v": "a\\u0000b"}',
        '{"v": "\\ud800"}',
        '{"v": "\\uDFFF"}',
        '{"\\u0000": 1}',
    ],
)
def test_the_scan_flags_every_token_that_can_carry_an_unstorable_value(text: str) -> None:
    assert needs_value_check(text.encode())


def test_an_ordinary_body_needs_no_value_check() -> None:
    body = json.dumps(
        {"events": [{"profile_id": "u-1", "name": "Café ✓", "properties": {"price": 1.5}}]}
    )
    assert not needs_value_check(body.encode())
