"""validate() never raises, whatever JSON it is given."""

import copy
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.domain import DefinitionError, DefinitionInvalid, parse_definition, validate

from .examples import contract_example, every_block_type

KEYS = st.sampled_from(
    [
        "id",
        "type",
        "event",
        "where",
        "within",
        "property",
        "op",
        "value",
        "entry",
        "nodes",
        "edges",
        "goals",
        "settings",
        "from",
        "to",
        "branch",
        "conditions",
        "kind",
        "count",
        "sum",
        "url",
        "title",
        "body",
        "duration",
        "window_days",
        "journey",
        "node",
        "headers",
        "method",
        "offset",
    ]
) | st.text(max_size=8)

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "action",
            "delay",
            "sms",
            "push",
            "PT1M",
            "-PT1H",
            "yes",
            "no",
            "entry",
            "eq",
            "in",
            "{{",
            "{% if %}",
        ]
    )
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(KEYS, children, max_size=6),
    max_leaves=40,
)


def _check(raw):
    errors = validate(raw)
    assert isinstance(errors, list)
    for error in errors:
        assert isinstance(error, DefinitionError)
        assert isinstance(error.path, str)
        assert isinstance(error.message, str)
        assert error.message
    if errors:
        with pytest.raises(DefinitionInvalid) as caught:
            parse_definition(raw)
        assert caught.value.errors == errors
    else:
        parse_definition(raw)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_validate_never_raises_on_arbitrary_json(raw):
    _check(raw)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(KEYS, JSON, max_size=6))
def test_validate_never_raises_on_arbitrary_objects(raw):
    _check(raw)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _mutate(base, data):
    raw = copy.deepcopy(base)
    for _ in range(data.draw(st.integers(1, 4))):
        paths = list(_paths(raw))
        path = data.draw(st.sampled_from(paths))
        if not path:
            continue
        parent = raw
        for step in path[:-1]:
            parent = parent[step]
        action = data.draw(st.sampled_from(["replace", "delete", "insert"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "insert" and isinstance(parent, dict):
            parent[data.draw(KEYS)] = data.draw(JSON)
        else:
            parent[path[-1]] = data.draw(JSON)
    return raw


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_validate_never_raises_on_mutated_contract_example(data):
    _check(_mutate(contract_example(), data))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_validate_never_raises_on_mutated_every_block_example(data):
    _check(_mutate(every_block_type(), data))


def test_deeply_nested_garbage_is_an_error_not_a_crash():
    raw: object = "x"
    for _ in range(5000):
        raw = [raw]
    contract = contract_example()
    contract["entry"]["where"] = raw
    assert validate(contract)
    assert validate(
        {
            "entry": {
                "id": "e",
                "type": "action",
                "event": "x",
                "where": [{"property": "a", "op": "eq", "value": math.nan}],
            }
        }
    )
