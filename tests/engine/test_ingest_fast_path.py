"""Ingest's fast path (orjson, one-pass event checks) answers exactly as the full path does.

``decode_body`` parses with orjson and ``parse_events`` checks the common event in one
pass; anything unusual goes through the stdlib parser (journeys_site/parsers.py) and the
per-field checks, which say what is wrong. These tests hold the two paths to the same
values and the same errors, on generated bodies and on the edge cases orjson treats
differently from the stdlib (integers beyond 64 bits, depth, BOM, NaN, surrogates).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import ingest
from engine.ingest import IngestError, decode_body, parse_events
from journeys_site import parsers

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LIMIT = 1 << 20

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=25,
)


def slow_decode(body: bytes) -> Any:
    """What decode_body answered before the fast path: the stdlib parser only."""
    try:
        return parsers.loads(body, max_bytes=LIMIT, max_depth=ingest.MAX_JSON_DEPTH, allow_nan=True)
    except parsers.JsonBodyInvalid as exc:
        raise IngestError([ingest.error(None, None, exc.message)], status=exc.status) from exc


def fast_decode(body: bytes) -> Any:
    return decode_body(body, max_bytes=LIMIT)


def outcome(decode: Any, body: bytes) -> tuple[str, Any]:
    try:
        return "value", decode(body)
    except IngestError as exc:
        return "error", (exc.status, exc.errors)


def same(a: Any, b: Any) -> bool:
    """Equal values of equal types all the way down (1 == 1.0 == True would hide a change)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b or (a != a and b != b)  # NaN is the same as NaN here


def assert_same_answer(body: bytes) -> None:
    fast, slow = outcome(fast_decode, body), outcome(slow_decode, body)
    assert fast[0] == slow[0], (body[:200], fast, slow)
    if fast[0] == "value":
        assert same(fast[1], slow[1]), body[:200]
    else:
        assert fast[1] == slow[1]


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_generated_bodies_decode_to_the_same_value(value: Any) -> None:
    for body in (json.dumps(value).encode(), json.dumps(value, ensure_ascii=False).encode()):
        assert_same_answer(body)


@settings(max_examples=300, deadline=None)
@given(json_values, st.data())
def test_damaged_bodies_get_the_same_answer(value: Any, data: st.DataObject) -> None:
    body = bytearray(json.dumps({"events": [value]}).encode())
    position = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    body[position] = data.draw(st.sampled_from(b'0123456789{}[]",:eE.-+ \t\\u\x00\xff\xed'))
    assert_same_answer(bytes(body))


@pytest.mark.parametrize(
    "text",
    [
        '{"v": 9223372036854775807}',
        '{"v": 9223372036854775808}',
        '{"v": -9223372036854775807}',
        '{"v": -9223372036854775808}',
        '{"v": 18446744073709551615}',
        '{"v": 18446744073709551616}',
        '{"v": 123456789012345678901234567890}',
        '{"v": 1.8e19}',
        '{"v": 1e400}',
        '{"v": -1e400}',
        '{"v": 1e-400}',
        '{"v": NaN}',
        '{"v": -Infinity}',
        '{"v": "\\ud800"}',
        '{"v": "a\\u0000b"}',
        '\ufeff{"v": 1}',
        '{"v": 1, "v": 2}',
        '{"v": 01}',
        '{"v": "tab\there"}',
        '{"v": 1} x',
        "null",
        "7",
        '"text"',
        "[]",
        " {} ",
        "[" * 32 + "]" * 32,
        "[" * 33 + "]" * 33,
        '{"a":' * 32 + "1" + "}" * 32,
        '{"a":' * 33 + "1" + "}" * 33,
        '{"events": [{"properties": ' + '{"a":' * 29 + "1" + "}" * 29 + "}]}",
        '{"events": [{"properties": ' + '{"a":' * 30 + "1" + "}" * 30 + "}]}",
        '{"s": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}',
    ],
)
def test_edge_cases_get_the_same_answer(text: str) -> None:
    assert_same_answer(text.encode())


def test_invalid_utf8_gets_the_same_answer() -> None:
    for body in (b'{"v": "\xff"}', b'{"v": "\xed\xa0\x80"}', b'{"v": "caf\xc3"}'):
        assert_same_answer(body)


event_values = st.one_of(
    st.none(),
    st.just(""),
    st.just("   "),
    st.just("x" * 256),
    st.just("x" * 129),
    st.integers(),
    st.text(max_size=6),
    st.sampled_from(
        [
            "2026-06-01T11:00:00Z",
            "2026-06-01T11:00:00+05:30",
            "2026-06-01T11:00:00",
            "2026-06-03T12:00:00Z",
            "1899-12-31T23:00:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "not a date",
        ]
    ),
    st.dictionaries(st.text(max_size=3), scalars, max_size=3),
    st.lists(scalars, max_size=2),
)
event_items = st.one_of(
    st.dictionaries(
        st.sampled_from(["id", "profile_id", "name", "ts", "properties", "user_hash", "other"]),
        event_values,
    ),
    st.fixed_dictionaries(
        {"profile_id": st.text(min_size=1, max_size=5), "name": st.text(min_size=1, max_size=5)},
        optional={
            "id": st.text(max_size=5),
            "ts": event_values,
            "properties": event_values,
            "user_hash": event_values,
        },
    ),
    scalars,
)


def events_outcome(items: list[Any], *, fast: bool) -> tuple[str, Any]:
    saved = ingest._event_fast
    if not fast:
        ingest._event_fast = lambda item, now: None  # type: ignore[assignment]
    try:
        return "records", parse_events({"events": items}, now=NOW, max_items=1000, deep=False)
    except IngestError as exc:
        return "error", exc.errors
    finally:
        ingest._event_fast = saved


@settings(max_examples=400, deadline=None)
@given(st.lists(event_items, min_size=1, max_size=4))
def test_the_one_pass_event_check_accepts_and_refuses_as_the_full_one(items: list[Any]) -> None:
    assert events_outcome(items, fast=True) == events_outcome(items, fast=False)


def test_the_one_pass_check_takes_the_common_event() -> None:
    item = {
        "id": "c-1",
        "profile_id": "u-1",
        "name": "Charged",
        "ts": "2026-06-01T11:00:00+02:00",
        "properties": {"amount": 12.5},
    }
    record = ingest._event_fast(item, NOW)
    assert record is not None
    assert record.ts == datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    assert record.properties == {"amount": 12.5}
    assert ingest._event_fast({**item, "name": " "}, NOW) is None


GOOD = {"id": "c-1", "profile_id": "u-1", "name": "Charged", "ts": "2026-06-01T11:00:00Z"}


@pytest.mark.parametrize("key", ["id", "profile_id", "name", "user_hash"])
@pytest.mark.parametrize("value", ["", " \t", "x" * 256, 5, ["x"], None])
def test_each_string_field_is_judged_as_the_full_check_does(key: str, value: Any) -> None:
    items = [{**GOOD, key: value}]
    assert events_outcome(items, fast=True) == events_outcome(items, fast=False)


@pytest.mark.parametrize(
    "extra",
    [
        {"ts": "2026-06-02T12:00:01Z"},
        {"ts": "2026-06-02T12:00:00Z"},
        {"ts": "2026-06-01T11:00:00"},
        {"ts": "1899-12-31T23:59:59Z"},
        {"ts": "0001-01-01T00:30:00+01:00"},
        {"ts": 1717236000},
        {"ts": None},
        {"properties": None},
        {"properties": []},
        {"properties": "x"},
    ],
)
def test_time_and_properties_are_judged_as_the_full_check_does(extra: dict[str, Any]) -> None:
    items = [{**GOOD, **extra}]
    assert events_outcome(items, fast=True) == events_outcome(items, fast=False)
