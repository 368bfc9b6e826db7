"""Field rules of every block type, at the entry and inside, with exact error paths."""

import copy

import pytest

from engine.domain import (
    ActionBlock,
    DateTimeBlock,
    DefinitionInvalid,
    DelayBlock,
    DidCondition,
    InactionBlock,
    JourneyTriggerBlock,
    MessageBlock,
    PageCountBlock,
    PastBehaviourBlock,
    ProfileCondition,
    ValidationContext,
    parse_definition,
    validate,
)

from .examples import (
    ENTRY_BLOCKS,
    INSIDE_BLOCKS,
    SEGMENT_TYPES,
    contract_example,
    every_block_type,
    with_entry,
)
from .helpers import at_entry, error_paths, inside


def test_contract_example_is_valid():
    assert validate(contract_example()) == []
    definition = parse_definition(contract_example())
    assert list(definition.nodes) == ["wait", "push1", "paid", "mail"]
    assert definition.settings.conversion_time == 7 * 86400
    assert definition.next_node("entry", "yes") == "wait"
    assert definition.next_node("paid", "no") == "mail"
    assert definition.is_path_end("paid", "yes")
    assert definition.goals[0].id == "bought"


def test_every_block_type_definition_is_valid():
    assert validate(every_block_type()) == []
    definition = parse_definition(every_block_type())
    assert {b.type for b in definition.nodes.values()} == set(INSIDE_BLOCKS)


@pytest.mark.parametrize("entry_type", list(ENTRY_BLOCKS))
def test_every_segment_type_can_be_the_entry(entry_type):
    definition = parse_definition(with_entry(entry_type))
    assert definition.entry.type == entry_type
    assert definition.next_node("entry", "yes") == "hello"


@pytest.mark.parametrize("block_type", list(INSIDE_BLOCKS))
def test_every_block_type_is_valid_inside(block_type):
    assert error_paths(inside(copy.deepcopy(INSIDE_BLOCKS[block_type]))) == []


def test_parsed_blocks_carry_their_fields():
    d = parse_definition(every_block_type())
    action = d.node("n_action")
    assert isinstance(action, ActionBlock)
    assert action.name == "Viewed product"
    assert action.within == 3600
    assert action.where[0].value == ("shoes", "bags")
    inaction = d.node("n_inaction")
    assert isinstance(inaction, InactionBlock)
    assert inaction.event is None
    assert inaction.within == 300
    past = d.node("n_past")
    assert isinstance(past, PastBehaviourBlock)
    assert (past.window_days, past.match, past.evaluate) == (30, "any", "on_arrival")
    assert isinstance(past.conditions[0], DidCondition)
    assert past.conditions[0].count is not None
    assert past.conditions[0].count.matches(2)
    assert past.conditions[1].sum is not None  # type: ignore[union-attr]
    assert isinstance(past.conditions[3], ProfileCondition)
    date = d.node("n_date")
    assert isinstance(date, DateTimeBlock)
    assert date.offset == -7200
    count = d.node("n_count")
    assert isinstance(count, PageCountBlock)
    assert count.scope == "total"
    hook = d.node("n_hook")
    assert isinstance(hook, MessageBlock)
    assert hook.channel == "webhook"
    assert hook.content["method"] == "PUT"
    assert hook.content["headers"] == {"X-Token": "abc {{ profile.id }}"}
    inapp = d.node("n_inapp")
    assert isinstance(inapp, MessageBlock)
    assert inapp.content["expires_after"] == 43200
    assert isinstance(d.node("n_delay"), DelayBlock)
    assert d.node("n_delay").duration == 93600  # type: ignore[attr-defined]


def test_defaults_are_filled_in():
    d = parse_definition(contract_example())
    paid = d.node("paid")
    assert isinstance(paid, PastBehaviourBlock)
    assert paid.match == "all"
    assert paid.evaluate == "midnight"
    cond = paid.conditions[0]
    assert isinstance(cond, DidCondition)
    assert cond.count is None
    assert cond.effective_count is not None
    assert (cond.effective_count.op, cond.effective_count.value) == ("gte", 1)
    hook = parse_definition(inside({"id": "h", "type": "webhook", "url": "http://a.example"})).node(
        "h"
    )
    assert hook.content == {
        "url": "http://a.example",
        "body": None,
        "method": "POST",
        "headers": {},
    }  # type: ignore[attr-defined]
    inapp = parse_definition(inside({"id": "m", "type": "in_app", "body": "x"})).node("m")
    assert inapp.content["expires_after"] == 86400  # type: ignore[attr-defined]
    page = parse_definition(at_entry(ENTRY_BLOCKS["page_count"])).entry
    assert isinstance(page, PageCountBlock)
    assert page.scope == "session"
    assert page.within is None
    date = parse_definition(at_entry({"id": "e", "type": "date_time", "property": "p"})).entry
    assert isinstance(date, DateTimeBlock)
    assert date.offset == 0


def _with(base: dict, **changes) -> dict:
    block = copy.deepcopy(base)
    for key, value in changes.items():
        if value is ...:
            block.pop(key, None)
        else:
            block[key] = value
    return block


I = INSIDE_BLOCKS  # noqa: E741
E = ENTRY_BLOCKS

# (case id, block placed inside, expected error paths)
INVALID_INSIDE = [
    ("action event missing", _with(I["action"], event=...), ["nodes[0].event"]),
    ("action event empty", _with(I["action"], event="  "), ["nodes[0].event"]),
    ("action event not text", _with(I["action"], event=5), ["nodes[0].event"]),
    ("action where not list", _with(I["action"], where="price > 5"), ["nodes[0].where"]),
    ("action filter not object", _with(I["action"], where=[1]), ["nodes[0].where[0]"]),
    (
        "action bad op",
        _with(I["action"], where=[{"property": "a", "op": "greater", "value": 1}]),
        ["nodes[0].where[0].op"],
    ),
    (
        "action missing property",
        _with(I["action"], where=[{"op": "eq", "value": 1}]),
        ["nodes[0].where[0].property"],
    ),
    (
        "action bad property",
        _with(I["action"], where=[{"property": "a..b", "op": "eq", "value": 1}]),
        ["nodes[0].where[0].property"],
    ),
    (
        "action eq null value",
        _with(I["action"], where=[{"property": "a", "op": "eq"}]),
        ["nodes[0].where[0].value"],
    ),
    (
        "action eq list value",
        _with(I["action"], where=[{"property": "a", "op": "eq", "value": [1]}]),
        ["nodes[0].where[0].value"],
    ),
    (
        "action eq nan",
        _with(I["action"], where=[{"property": "a", "op": "eq", "value": float("nan")}]),
        ["nodes[0].where[0].value"],
    ),
    (
        "action eq huge int",
        _with(I["action"], where=[{"property": "a", "op": "eq", "value": 10**30}]),
        ["nodes[0].where[0].value"],
    ),
    (
        "action gt bool",
        _with(I["action"], where=[{"property": "a", "op": "gt", "value": True}]),
        ["nodes[0].where[0].value"],
    ),
    (
        "action in empty",
        _with(I["action"], where=[{"property": "a", "op": "in", "value": []}]),
        ["nodes[0].where[0].value"],
    ),
    (
        "action in scalar",
        _with(I["action"], where=[{"property": "a", "op": "in", "value": "x"}]),
        ["nodes[0].where[0].value"],
    ),
    (
        "action in bad item",
        _with(I["action"], where=[{"property": "a", "op": "not_in", "value": ["x", {}]}]),
        ["nodes[0].where[0].value[1]"],
    ),
    (
        "action starts_with number",
        _with(I["action"], where=[{"property": "a", "op": "starts_with", "value": 1}]),
        ["nodes[0].where[0].value"],
    ),
    (
        "action second filter",
        _with(
            I["action"], where=[{"property": "a", "op": "exists"}, {"property": "b", "op": "lt"}]
        ),
        ["nodes[0].where[1].value"],
    ),
    ("action within bad", _with(I["action"], within="soon"), ["nodes[0].within"]),
    ("action within zero", _with(I["action"], within=0), ["nodes[0].within"]),
    ("action within months", _with(I["action"], within="P1M"), ["nodes[0].within"]),
    ("action name not text", _with(I["action"], name=5), ["nodes[0].name"]),
    ("inaction event inside", _with(I["inaction"], event="Added To Cart"), ["nodes[0].event"]),
    (
        "inaction where inside",
        _with(I["inaction"], where=[{"property": "a", "op": "exists"}]),
        ["nodes[0].where"],
    ),
    ("inaction not_event missing", _with(I["inaction"], not_event=...), ["nodes[0].not_event"]),
    ("inaction within missing", _with(I["inaction"], within=...), ["nodes[0].within"]),
    ("inaction not_where bad", _with(I["inaction"], not_where={"a": 1}), ["nodes[0].not_where"]),
    ("past window missing", _with(I["past_behaviour"], window_days=...), ["nodes[0].window_days"]),
    ("past window zero", _with(I["past_behaviour"], window_days=0), ["nodes[0].window_days"]),
    ("past window too big", _with(I["past_behaviour"], window_days=3651), ["nodes[0].window_days"]),
    ("past window huge", _with(I["past_behaviour"], window_days=10**100), ["nodes[0].window_days"]),
    ("past window text", _with(I["past_behaviour"], window_days="7"), ["nodes[0].window_days"]),
    ("past window bool", _with(I["past_behaviour"], window_days=True), ["nodes[0].window_days"]),
    ("past match bad", _with(I["past_behaviour"], match="some"), ["nodes[0].match"]),
    ("past evaluate bad", _with(I["past_behaviour"], evaluate="noon"), ["nodes[0].evaluate"]),
    ("past conditions empty", _with(I["past_behaviour"], conditions=[]), ["nodes[0].conditions"]),
    (
        "past conditions missing",
        _with(I["past_behaviour"], conditions=...),
        ["nodes[0].conditions"],
    ),
    (
        "past condition not object",
        _with(I["past_behaviour"], conditions=["did"]),
        ["nodes[0].conditions[0]"],
    ),
    (
        "past condition bad kind",
        _with(I["past_behaviour"], conditions=[{"kind": "maybe", "event": "x"}]),
        ["nodes[0].conditions[0].kind"],
    ),
    (
        "past condition no event",
        _with(I["past_behaviour"], conditions=[{"kind": "did"}]),
        ["nodes[0].conditions[0].event"],
    ),
    (
        "past count bad op",
        _with(
            I["past_behaviour"],
            conditions=[{"kind": "did", "event": "x", "count": {"op": "greater", "value": 1}}],
        ),
        ["nodes[0].conditions[0].count.op"],
    ),
    (
        "past count negative",
        _with(
            I["past_behaviour"],
            conditions=[{"kind": "did", "event": "x", "count": {"op": "gte", "value": -1}}],
        ),
        ["nodes[0].conditions[0].count.value"],
    ),
    (
        "past count float",
        _with(
            I["past_behaviour"],
            conditions=[{"kind": "did", "event": "x", "count": {"op": "gte", "value": 1.5}}],
        ),
        ["nodes[0].conditions[0].count.value"],
    ),
    (
        "past count not object",
        _with(I["past_behaviour"], conditions=[{"kind": "did", "event": "x", "count": 3}]),
        ["nodes[0].conditions[0].count"],
    ),
    (
        "past sum no property",
        _with(
            I["past_behaviour"],
            conditions=[{"kind": "did", "event": "x", "sum": {"op": "gt", "value": 1}}],
        ),
        ["nodes[0].conditions[0].sum.property"],
    ),
    (
        "past sum text value",
        _with(
            I["past_behaviour"],
            conditions=[
                {"kind": "did", "event": "x", "sum": {"property": "a", "op": "gt", "value": "1"}}
            ],
        ),
        ["nodes[0].conditions[0].sum.value"],
    ),
    (
        "past did_not count",
        _with(
            I["past_behaviour"],
            conditions=[{"kind": "did_not", "event": "x", "count": {"op": "gt", "value": 1}}],
        ),
        ["nodes[0].conditions[0].count"],
    ),
    (
        "past where bad",
        _with(
            I["past_behaviour"],
            conditions=[
                {"kind": "did", "event": "x", "where": [{"property": "a", "op": "eqq", "value": 1}]}
            ],
        ),
        ["nodes[0].conditions[0].where[0].op"],
    ),
    (
        "past profile bad op",
        _with(
            I["past_behaviour"],
            conditions=[{"kind": "profile", "property": "a", "op": "is", "value": 1}],
        ),
        ["nodes[0].conditions[0].op"],
    ),
    (
        "past second condition",
        _with(
            I["past_behaviour"],
            conditions=[{"kind": "did", "event": "x"}, {"kind": "profile", "op": "exists"}],
        ),
        ["nodes[0].conditions[1].property"],
    ),
    ("date property missing", _with(I["date_time"], property=...), ["nodes[0].property"]),
    ("date property empty", _with(I["date_time"], property=""), ["nodes[0].property"]),
    ("date offset bad", _with(I["date_time"], offset="two hours"), ["nodes[0].offset"]),
    ("date offset fraction", _with(I["date_time"], offset="PT0.5S"), ["nodes[0].offset"]),
    ("page url missing", _with(I["page_visit"], url=...), ["nodes[0].url"]),
    ("page url string", _with(I["page_visit"], url="/pricing"), ["nodes[0].url"]),
    ("page url bad op", _with(I["page_visit"], url={"op": "exists"}), ["nodes[0].url.op"]),
    ("page url no value", _with(I["page_visit"], url={"op": "contains"}), ["nodes[0].url.value"]),
    ("page within bad", _with(I["page_visit"], within=-5), ["nodes[0].within"]),
    ("referrer missing", _with(I["referrer_entry"], referrer=...), ["nodes[0].referrer"]),
    (
        "referrer bad op",
        _with(I["referrer_entry"], referrer={"op": "like", "value": "x"}),
        ["nodes[0].referrer.op"],
    ),
    ("count missing", _with(I["page_count"], count=...), ["nodes[0].count"]),
    (
        "count zero",
        _with(I["page_count"], count={"op": "gte", "value": 0}),
        ["nodes[0].count.value"],
    ),
    ("count bad op", _with(I["page_count"], count={"op": "in", "value": 3}), ["nodes[0].count.op"]),
    ("count scope bad", _with(I["page_count"], scope="week"), ["nodes[0].scope"]),
    ("push title missing", _with(I["push"], title=...), ["nodes[0].title"]),
    ("push body missing", _with(I["push"], body=...), ["nodes[0].body"]),
    ("push body bad liquid", _with(I["push"], body="Hi {{ name "), ["nodes[0].body"]),
    ("push url bad liquid", _with(I["push"], url="{% if %}"), ["nodes[0].url"]),
    ("push title not text", _with(I["push"], title=["a"]), ["nodes[0].title"]),
    ("web_push body missing", _with(I["web_push"], body=...), ["nodes[0].body"]),
    ("email subject missing", _with(I["email"], subject=...), ["nodes[0].subject"]),
    ("email no html or text", _with(I["email"], text=...), ["nodes[0].html"]),
    ("email html bad liquid", _with(I["email"], html="{% for x in y %}"), ["nodes[0].html"]),
    ("email unknown filter", _with(I["email"], subject="{{ a | nope }}"), ["nodes[0].subject"]),
    ("sms body missing", _with(I["sms"], body=...), ["nodes[0].body"]),
    ("sms body empty", _with(I["sms"], body=""), ["nodes[0].body"]),
    ("in_app no title or body", _with(I["in_app"], title=...), ["nodes[0].title"]),
    ("in_app expiry bad", _with(I["in_app"], expires_after="forever"), ["nodes[0].expires_after"]),
    ("in_app button_url bad liquid", _with(I["in_app"], button_url="{{"), ["nodes[0].button_url"]),
    ("webhook url missing", _with(I["webhook"], url=...), ["nodes[0].url"]),
    ("webhook url not http", _with(I["webhook"], url="ftp://x.example"), ["nodes[0].url"]),
    ("webhook url no host", _with(I["webhook"], url="https://"), ["nodes[0].url"]),
    ("webhook url bad liquid", _with(I["webhook"], url="https://x/{{"), ["nodes[0].url"]),
    ("webhook method bad", _with(I["webhook"], method="FETCH"), ["nodes[0].method"]),
    ("webhook headers list", _with(I["webhook"], headers=["a"]), ["nodes[0].headers"]),
    (
        "webhook header value number",
        _with(I["webhook"], headers={"X-A": 1}),
        ["nodes[0].headers.X-A"],
    ),
    (
        "webhook header bad name",
        _with(I["webhook"], headers={"X A": "1"}),
        ["nodes[0].headers.X A"],
    ),
    (
        "webhook header bad liquid",
        _with(I["webhook"], headers={"X-A": "{{"}),
        ["nodes[0].headers.X-A"],
    ),
    ("webhook body bad liquid", _with(I["webhook"], body="{% if %}"), ["nodes[0].body"]),
    ("delay missing", _with(I["delay"], duration=...), ["nodes[0].duration"]),
    ("delay zero", _with(I["delay"], duration=0), ["nodes[0].duration"]),
    ("delay negative", _with(I["delay"], duration="-PT1H"), ["nodes[0].duration"]),
    ("delay years", _with(I["delay"], duration="P1Y"), ["nodes[0].duration"]),
    ("journey trigger inside", dict(E["journey_trigger"], id="jt"), ["nodes[0].type"]),
    ("unknown type", {"id": "x", "type": "carrier_pigeon"}, ["nodes[0].type"]),
    ("missing type", {"id": "x"}, ["nodes[0].type"]),
    ("missing id", _with(I["sms"], id=...), ["nodes[0].id"]),
    ("bad id", _with(I["sms"], id="has space"), ["nodes[0].id"]),
    ("long id", _with(I["sms"], id="x" * 65), ["nodes[0].id"]),
]


@pytest.mark.parametrize(
    ("block", "expected"), [c[1:] for c in INVALID_INSIDE], ids=[c[0] for c in INVALID_INSIDE]
)
def test_invalid_blocks_inside_report_exact_paths(block, expected):
    raw = inside(block)
    if (
        raw["nodes"][0].get("id") is None
        or raw["nodes"][0]["id"] == "has space"
        or len(raw["nodes"][0]["id"]) > 64
    ):
        raw["edges"] = []  # the edge could not name it
    found = error_paths(raw)
    if block.get("type") in SEGMENT_TYPES or block.get("type") == "journey_trigger":
        found = [p for p in found if not p.startswith("edges")]
    assert found == expected


@pytest.mark.parametrize(
    ("name", "entry", "expected"),
    [
        ("action within at entry", _with(E["action"], within="PT1H"), ["entry.within"]),
        ("page_visit within at entry", _with(E["page_visit"], within=60), ["entry.within"]),
        ("referrer within at entry", _with(E["referrer_entry"], within=60), ["entry.within"]),
        ("page_count within at entry", _with(E["page_count"], within=60), ["entry.within"]),
        (
            "past evaluate at entry",
            _with(E["past_behaviour"], evaluate="on_arrival"),
            ["entry.evaluate"],
        ),
        ("inaction entry needs event", _with(E["inaction"], event=...), ["entry.event"]),
        (
            "inaction entry needs not_event",
            _with(E["inaction"], not_event=...),
            ["entry.not_event"],
        ),
        ("inaction entry needs within", _with(E["inaction"], within=...), ["entry.within"]),
        (
            "inaction entry bad where",
            _with(E["inaction"], where=[{"property": "p"}]),
            ["entry.where[0].op"],
        ),
        (
            "entry filter op",
            _with(E["action"], where=[{"property": "price", "op": "greater", "value": 1}]),
            ["entry.where[0].op"],
        ),
        ("message at entry", {"id": "entry", "type": "sms", "body": "x"}, ["entry.type"]),
        ("delay at entry", {"id": "entry", "type": "delay", "duration": 60}, ["entry.type"]),
        ("entry not object", "action", ["entry"]),
        ("entry list", [], ["entry"]),
        ("journey id missing", _with(E["journey_trigger"], journey=...), ["entry.journey"]),
        ("journey id bool", _with(E["journey_trigger"], journey=True), ["entry.journey"]),
        ("journey id object", _with(E["journey_trigger"], journey={}), ["entry.journey"]),
        ("journey node missing", _with(E["journey_trigger"], node=...), ["entry.node"]),
        ("journey node bad", _with(E["journey_trigger"], node="a b"), ["entry.node"]),
    ],
)
def test_invalid_entries_report_exact_paths(name, entry, expected):
    assert error_paths(at_entry(entry)) == expected


def test_entry_is_required():
    assert error_paths({"nodes": []}) == ["entry"]


def test_journey_trigger_accepts_int_journey_ids():
    entry = parse_definition(at_entry(_with(E["journey_trigger"], journey=12))).entry
    assert isinstance(entry, JourneyTriggerBlock)
    assert entry.journey == "12"


def _context(journeys: dict[str, set[str]], this: str | int | None = None) -> ValidationContext:
    return ValidationContext(journey_blocks=journeys.get, this_journey=this)


@pytest.mark.parametrize(
    ("journey", "node", "this", "expected"),
    [
        ("12", "push1", None, []),
        (12, "push1", 7, []),
        ("12", "nope", None, ["entry.node"]),
        ("99", "push1", None, ["entry.journey"]),
        ("12", "push1", 12, ["entry.journey"]),
        (12, "push1", "12", ["entry.journey"]),
    ],
)
def test_journey_trigger_checked_against_the_context(journey, node, this, expected):
    raw = at_entry({"id": "entry", "type": "journey_trigger", "journey": journey, "node": node})
    assert error_paths(raw, context=_context({"12": {"entry", "push1"}}, this)) == expected


# -- settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, []),
        (None, []),
        ({"conversion_time": None, "allow_reentry": None}, []),
        ({"conversion_time": 3600, "start_at": "2026-01-01T00:00:00+05:30"}, []),
        ({"conversion_time": "P1M"}, ["settings.conversion_time"]),
        ({"conversion_time": 0}, ["settings.conversion_time"]),
        ({"conversion_time": "-PT1H"}, ["settings.conversion_time"]),
        ({"allow_reentry": "yes"}, ["settings.allow_reentry"]),
        ({"allow_reentry": 1}, ["settings.allow_reentry"]),
        ({"start_at": "2026-01-01T00:00:00"}, ["settings.start_at"]),
        ({"start_at": "2026-01-01"}, ["settings.start_at"]),
        ({"start_at": "tomorrow"}, ["settings.start_at"]),
        ({"end_at": 1700000000}, ["settings.end_at"]),
        (
            {"start_at": "2026-01-02T00:00:00Z", "end_at": "2026-01-01T00:00:00Z"},
            ["settings.end_at"],
        ),
        (
            {"start_at": "2026-01-01T00:00:00Z", "end_at": "2026-01-01T00:00:00Z"},
            ["settings.end_at"],
        ),
        ("fast", ["settings"]),
        ([], ["settings"]),
    ],
)
def test_settings_rules(settings, expected):
    raw = contract_example()
    raw["settings"] = settings
    assert error_paths(raw) == expected


def test_settings_times_are_utc():
    raw = contract_example()
    raw["settings"]["start_at"] = "2026-01-01T05:30:00+05:30"
    start = parse_definition(raw).settings.start_at
    assert start is not None
    assert start.isoformat() == "2026-01-01T00:00:00+00:00"


# -- goals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("goals", "expected"),
    [
        ([], []),
        (None, []),
        (
            [
                {
                    "id": "g",
                    "type": "past_behaviour",
                    "window_days": 3,
                    "conditions": [{"kind": "did", "event": "x"}],
                }
            ],
            [],
        ),
        ([{"id": f"g{i}", "type": "action", "event": "x"} for i in range(4)], ["goals"]),
        ([{"id": "g", "type": "delay", "duration": 5}], ["goals[0].type"]),
        ([{"id": "g", "type": "action"}], ["goals[0].event"]),
        (
            [{"id": "g", "type": "action", "event": "x", "where": [{"property": "a", "op": "x"}]}],
            ["goals[0].where[0].op"],
        ),
        (
            [{"id": "g", "type": "past_behaviour", "window_days": 0, "conditions": []}],
            ["goals[0].window_days", "goals[0].conditions"],
        ),
        (
            [
                {
                    "id": "g",
                    "type": "past_behaviour",
                    "window_days": 1,
                    "match": "one",
                    "conditions": [{"kind": "profile", "property": "a", "op": "exists"}],
                }
            ],
            ["goals[0].match"],
        ),
        ([{"type": "action", "event": "x"}], ["goals[0].id"]),
        ([{"id": "wait", "type": "action", "event": "x"}], ["goals[0].id"]),
        (["bought"], ["goals[0]"]),
        ({"id": "g"}, ["goals"]),
    ],
)
def test_goal_rules(goals, expected):
    raw = contract_example()
    raw["goals"] = goals
    assert error_paths(raw) == expected


def test_parse_definition_raises_with_every_error():
    raw = contract_example()
    raw["nodes"][0]["duration"] = "soon"
    raw["nodes"][1]["title"] = None
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(raw)
    assert [e.path for e in caught.value.errors] == ["nodes[0].duration", "nodes[1].title"]
    assert caught.value.errors[0].as_dict() == {
        "path": "nodes[0].duration",
        "message": caught.value.errors[0].message,
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, [""]),
        ("definition", [""]),
        ([], [""]),
        (42, [""]),
    ],
)
def test_root_must_be_an_object(raw, expected):
    assert error_paths(raw) == expected


def test_unknown_keys_are_ignored_and_layout_must_be_an_object():
    raw = contract_example()
    raw["canvas_zoom"] = 2
    raw["nodes"][0]["ui"] = {"color": "red"}
    raw["entry"]["collapsed"] = True
    assert validate(raw) == []
    raw["layout"] = "left-to-right"
    assert error_paths(raw) == ["layout"]
    raw["layout"] = None
    assert validate(raw) == []


def test_messages_are_marketer_readable():
    raw = contract_example()
    raw["entry"]["where"][0]["op"] = "greater"
    [error] = validate(raw)
    assert error.message.startswith("Unknown operator 'greater'; use one of: eq, neq, gt")
