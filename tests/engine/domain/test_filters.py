import pytest

from engine.domain import (
    Filter,
    ValueFilter,
    all_match,
    filter_matches,
    json_equal,
    lookup,
    value_matches,
)

PROPS = {
    "price": 120,
    "ratio": 0.5,
    "name": "Red Nike Shoes",
    "vip": True,
    "tags": ["sale", "new", 3],
    "ts": "2026-11-28T10:00:00Z",
    "nothing": None,
    "address": {"city": "Pune", "geo": {"lat": 18.5}},
    "zero": 0,
}


@pytest.mark.parametrize(
    ("prop", "op", "value", "expected"),
    [
        # eq / neq: JSON equality
        ("price", "eq", 120, True),
        ("price", "eq", 120.0, True),
        ("price", "eq", "120", False),
        ("name", "eq", "Red Nike Shoes", True),
        ("name", "eq", "red nike shoes", False),
        ("vip", "eq", True, True),
        ("vip", "eq", 1, False),
        ("zero", "eq", False, False),
        ("tags", "eq", "sale", False),
        ("price", "neq", 120, False),
        ("price", "neq", 121, True),
        ("vip", "neq", 1, True),
        ("missing", "eq", 1, False),
        ("missing", "neq", 1, True),
        ("nothing", "eq", 1, False),
        ("nothing", "neq", 1, True),
        # gt / gte / lt / lte
        ("price", "gt", 100, True),
        ("price", "gt", 120, False),
        ("price", "gte", 120, True),
        ("price", "lt", 120.5, True),
        ("price", "lte", 119, False),
        ("ratio", "lt", 1, True),
        ("ts", "gt", "2026-11-28T09:00:00Z", True),
        ("ts", "lt", "2026-11-28T09:00:00Z", False),
        ("name", "gte", "A", True),
        ("price", "gt", "100", False),
        ("name", "gt", 1, False),
        ("vip", "gt", 0, False),
        ("tags", "gt", 0, False),
        ("missing", "gt", 0, False),
        ("missing", "lte", 0, False),
        ("nothing", "lt", 10, False),
        # in / not_in
        ("name", "in", ["Red Nike Shoes", "x"], True),
        ("price", "in", [1, 120.0], True),
        ("price", "in", ["120"], False),
        ("vip", "in", [1], False),
        ("vip", "in", [True], True),
        ("name", "not_in", ["x"], True),
        ("name", "not_in", ["Red Nike Shoes"], False),
        ("missing", "in", ["x"], False),
        ("missing", "not_in", ["x"], True),
        ("nothing", "not_in", ["x"], True),
        # contains / not_contains
        ("name", "contains", "Nike", True),
        ("name", "contains", "nike", False),
        ("tags", "contains", "sale", True),
        ("tags", "contains", "sal", False),
        ("tags", "contains", 3.0, True),
        ("price", "contains", "12", False),
        ("name", "contains", 1, False),
        ("name", "not_contains", "Adidas", True),
        ("name", "not_contains", "Nike", False),
        ("tags", "not_contains", "old", True),
        ("price", "not_contains", "12", True),
        ("missing", "contains", "a", False),
        ("missing", "not_contains", "a", True),
        # starts_with / ends_with
        ("name", "starts_with", "Red", True),
        ("name", "starts_with", "red", False),
        ("name", "ends_with", "Shoes", True),
        ("name", "ends_with", "Nike", False),
        ("price", "starts_with", "1", False),
        ("tags", "starts_with", "sale", False),
        ("missing", "starts_with", "", False),
        ("missing", "ends_with", "", False),
        # exists / not_exists
        ("price", "exists", None, True),
        ("zero", "exists", None, True),
        ("vip", "not_exists", None, False),
        ("missing", "exists", None, False),
        ("missing", "not_exists", None, True),
        ("nothing", "exists", None, False),
        ("nothing", "not_exists", None, True),
        # dotted paths
        ("address.city", "eq", "Pune", True),
        ("address.geo.lat", "gt", 18, True),
        ("address.zip", "exists", None, False),
        ("address.zip", "not_exists", None, True),
        ("name.first", "exists", None, False),
        ("tags.0", "exists", None, False),
        ("address", "exists", None, True),
        ("address", "eq", "Pune", False),
    ],
)
def test_filter_predicate(prop, op, value, expected):
    assert filter_matches(Filter(prop, op, value), PROPS) is expected


def test_all_match_needs_every_filter_and_empty_list_matches():
    assert all_match([], PROPS)
    assert all_match([Filter("price", "gt", 1), Filter("vip", "eq", True)], PROPS)
    assert not all_match([Filter("price", "gt", 1), Filter("vip", "eq", False)], PROPS)


@pytest.mark.parametrize(
    ("op", "expected_value", "value", "expected"),
    [
        ("contains", "/pricing", "https://x.com/pricing?a=1", True),
        ("contains", "/pricing", "https://x.com/about", False),
        ("eq", "https://x.com/", "https://x.com/", True),
        ("neq", "https://x.com/", "https://x.com/", False),
        ("starts_with", "https://x.com", "https://x.com/a", True),
        ("ends_with", ".pdf", "https://x.com/a.pdf", True),
        ("in", ["a", "b"], "b", True),
        ("not_in", ["a", "b"], "c", True),
        ("not_contains", "facebook", "https://google.com", True),
        ("contains", "facebook", None, False),
        ("not_contains", "facebook", None, True),
        ("gt", "b", "c", True),
    ],
)
def test_value_filter_predicate(op, expected_value, value, expected):
    assert value_matches(ValueFilter(op, expected_value), value) is expected


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (1, 1.0, True),
        (True, 1, False),
        (False, 0, False),
        (True, True, True),
        ("a", "a", True),
        ("a", "A", False),
        ([1, "a"], [1.0, "a"], True),
        ([1], [True], False),
        ({"a": 1}, {"a": 1.0}, True),
        ({"a": 1}, {"b": 1}, False),
        (None, None, True),
        (None, 0, False),
    ],
)
def test_json_equality(a, b, equal):
    assert json_equal(a, b) is equal


def test_lookup_treats_non_objects_on_the_way_as_missing():
    assert lookup({"a": [1]}, "a.0") is None
    assert lookup({"a": {"b": None}}, "a.b") is None
    assert lookup({"a.b": 1}, "a.b") is None
