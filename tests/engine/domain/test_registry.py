import json

import pytest

from engine.domain import REGISTRY, block_type, palette

from .examples import ENTRY_BLOCKS, INSIDE_BLOCKS


def test_registry_covers_every_block_type_of_the_contract():
    assert set(REGISTRY) == set(INSIDE_BLOCKS) | set(ENTRY_BLOCKS)


@pytest.mark.parametrize(
    ("type_", "category", "entry", "inside", "branches", "channel"),
    [
        ("action", "segment", True, True, ("yes", "no"), None),
        ("inaction", "segment", True, True, ("yes", "no"), None),
        ("past_behaviour", "segment", True, True, ("yes", "no"), None),
        ("date_time", "segment", True, True, ("yes", "no"), None),
        ("journey_trigger", "segment", True, False, ("yes", "no"), None),
        ("page_visit", "segment", True, True, ("yes", "no"), None),
        ("referrer_entry", "segment", True, True, ("yes", "no"), None),
        ("page_count", "segment", True, True, ("yes", "no"), None),
        ("push", "message", False, True, (), "push"),
        ("web_push", "message", False, True, (), "web_push"),
        ("email", "message", False, True, (), "email"),
        ("sms", "message", False, True, (), "sms"),
        ("in_app", "message", False, True, (), "in_app"),
        ("webhook", "message", False, True, (), "webhook"),
        ("delay", "flow", False, True, (), None),
    ],
)
def test_registry_entries(type_, category, entry, inside, branches, channel):
    bt = block_type(type_)
    assert bt is not None
    assert (bt.category, bt.entry, bt.inside, bt.branches, bt.channel) == (
        category,
        entry,
        inside,
        branches,
        channel,
    )
    assert bt.label
    assert bt.fields


def test_palette_is_json_serialisable_and_labelled():
    data = json.loads(json.dumps(palette()))
    assert [d["type"] for d in data] == list(REGISTRY)
    past = next(d for d in data if d["type"] == "past_behaviour")
    assert past["label"] == "Past Behaviour"
    assert {f["name"] for f in past["fields"]} >= {"window_days", "match", "conditions", "evaluate"}
    for entry in data:
        for field in entry["fields"]:
            assert set(field) >= {"name", "kind", "required", "help"}


def test_unknown_type_is_none():
    assert block_type("carrier_pigeon") is None
