"""Example journey definitions shared by tests: the contract's example, every block type, every entry type."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

# Verbatim from CONTRACT.md, "Journeys" -> "Definition".
CONTRACT_EXAMPLE_JSON = """
{
  "settings": {"conversion_time": "P7D", "allow_reentry": false,
               "start_at": null, "end_at": null},
  "entry": {"id": "entry", "type": "action", "event": "Added To Cart",
            "where": [{"property": "price", "op": "gte", "value": 50}]},
  "nodes": [
    {"id": "wait", "type": "delay", "duration": "PT20M"},
    {"id": "push1", "type": "push", "title": "Still thinking?",
     "body": "Hi {{ profile.first_name | default: 'there' }}, your cart misses you"},
    {"id": "paid", "type": "past_behaviour", "window_days": 1,
     "conditions": [{"kind": "did", "event": "Charged"}]},
    {"id": "mail", "type": "email", "subject": "10% off", "html": "<p>...</p>"}
  ],
  "edges": [
    {"from": "entry", "to": "wait"}, {"from": "wait", "to": "push1"},
    {"from": "push1", "to": "paid"}, {"from": "paid", "to": "mail", "branch": "no"}
  ],
  "goals": [{"id": "bought", "type": "action", "event": "Charged"}],
  "layout": {"entry": {"x": 0, "y": 0}}
}
"""


def contract_example() -> dict[str, Any]:
    """A fresh copy of the contract's example definition."""
    return json.loads(CONTRACT_EXAMPLE_JSON)


# One valid block of each type as it may appear INSIDE a journey.
INSIDE_BLOCKS: dict[str, dict[str, Any]] = {
    "action": {
        "id": "n_action",
        "type": "action",
        "name": "Viewed product",
        "event": "Product Viewed",
        "where": [{"property": "category", "op": "in", "value": ["shoes", "bags"]}],
        "within": "PT1H",
    },
    "inaction": {
        "id": "n_inaction",
        "type": "inaction",
        "not_event": "Charged",
        "not_where": [{"property": "amount", "op": "gt", "value": 0}],
        "within": "PT5M",
    },
    "past_behaviour": {
        "id": "n_past",
        "type": "past_behaviour",
        "window_days": 30,
        "match": "any",
        "evaluate": "on_arrival",
        "conditions": [
            {"kind": "did", "event": "Charged", "count": {"op": "gte", "value": 2}},
            {
                "kind": "did",
                "event": "Charged",
                "sum": {"property": "amount", "op": "gt", "value": 99.5},
            },
            {
                "kind": "did_not",
                "event": "Refunded",
                "where": [{"property": "reason", "op": "exists"}],
            },
            {"kind": "profile", "property": "plan", "op": "eq", "value": "gold"},
        ],
    },
    "date_time": {
        "id": "n_date",
        "type": "date_time",
        "property": "flight_time",
        "offset": "-PT2H",
    },
    "page_visit": {
        "id": "n_page",
        "type": "page_visit",
        "url": {"op": "contains", "value": "/pricing"},
        "within": 3600,
    },
    "referrer_entry": {
        "id": "n_ref",
        "type": "referrer_entry",
        "referrer": {"op": "contains", "value": "facebook.com"},
    },
    "page_count": {
        "id": "n_count",
        "type": "page_count",
        "count": {"op": "gte", "value": 3},
        "scope": "total",
        "within": "P1D",
    },
    "push": {
        "id": "n_push",
        "type": "push",
        "title": "Hi",
        "body": "{{ event.item }}",
        "url": "app://x",
    },
    "web_push": {"id": "n_wpush", "type": "web_push", "title": "Hi", "body": "Body"},
    "email": {
        "id": "n_email",
        "type": "email",
        "subject": "Hello {{ profile.first_name }}",
        "text": "Hi",
    },
    "sms": {"id": "n_sms", "type": "sms", "body": "Your code"},
    "in_app": {
        "id": "n_inapp",
        "type": "in_app",
        "title": "Welcome",
        "button_text": "Go",
        "button_url": "https://example.com/{{ profile.id }}",
        "expires_after": "PT12H",
    },
    "webhook": {
        "id": "n_hook",
        "type": "webhook",
        "url": "https://hooks.example.com/{{ profile.id }}",
        "method": "PUT",
        "headers": {"X-Token": "abc {{ profile.id }}"},
        "body": '{"id": "{{ profile.id }}"}',
    },
    "delay": {"id": "n_delay", "type": "delay", "duration": "P1DT2H"},
    "split": {
        "id": "n_split",
        "type": "split",
        "branches": [
            {"name": "A", "percent": 50},
            {"name": "B", "percent": 30},
            {"name": "control", "percent": 20, "holdout": True},
        ],
    },
}

# One valid entry block of each segment type (all 8 may be the entry).
ENTRY_BLOCKS: dict[str, dict[str, Any]] = {
    "action": {
        "id": "entry",
        "type": "action",
        "event": "Added To Cart",
        "where": [{"property": "price", "op": "gte", "value": 50}],
    },
    "inaction": {
        "id": "entry",
        "type": "inaction",
        "event": "Added To Cart",
        "where": [{"property": "price", "op": "gte", "value": 50}],
        "not_event": "Charged",
        "within": "PT5M",
    },
    "past_behaviour": {
        "id": "entry",
        "type": "past_behaviour",
        "window_days": 7,
        "conditions": [
            {"kind": "did", "event": "App Launched", "count": {"op": "gte", "value": 3}}
        ],
    },
    "date_time": {"id": "entry", "type": "date_time", "property": "flight_time", "offset": -7200},
    "journey_trigger": {"id": "entry", "type": "journey_trigger", "journey": "12", "node": "push1"},
    "page_visit": {
        "id": "entry",
        "type": "page_visit",
        "url": {"op": "starts_with", "value": "https://"},
    },
    "referrer_entry": {
        "id": "entry",
        "type": "referrer_entry",
        "referrer": {"op": "contains", "value": "utm_campaign=spring"},
    },
    "page_count": {"id": "entry", "type": "page_count", "count": {"op": "gte", "value": 3}},
}

SEGMENT_TYPES = tuple(t for t in INSIDE_BLOCKS if t in ENTRY_BLOCKS)


def with_entry(entry_type: str) -> dict[str, Any]:
    """A small valid definition whose entry is of ``entry_type``."""
    return {
        "settings": {"allow_reentry": True},
        "entry": copy.deepcopy(ENTRY_BLOCKS[entry_type]),
        "nodes": [{"id": "hello", "type": "sms", "body": "Hello {{ profile.first_name }}"}],
        "edges": [{"from": "entry", "to": "hello", "branch": "yes"}],
    }


def every_block_type() -> dict[str, Any]:
    """A valid definition using every block type inside, chained on segments' yes paths."""
    nodes = [copy.deepcopy(b) for b in INSIDE_BLOCKS.values()]
    edges: list[dict[str, Any]] = [{"from": "entry", "to": nodes[0]["id"]}]
    for previous, current in itertools.pairwise(nodes):
        edge: dict[str, Any] = {"from": previous["id"], "to": current["id"]}
        if previous["type"] in SEGMENT_TYPES:
            edge["branch"] = "yes"
        edges.append(edge)
    # A "no" path from the first segment straight to the delay.
    edges.append({"from": nodes[0]["id"], "to": "n_delay", "branch": "no"})
    return {
        "settings": {
            "conversion_time": "P14D",
            "allow_reentry": True,
            "start_at": "2026-11-28T10:00:00Z",
            "end_at": "2026-12-28T10:00:00+05:30",
        },
        "entry": copy.deepcopy(ENTRY_BLOCKS["action"]),
        "nodes": nodes,
        "edges": edges,
        "goals": [
            {
                "id": "g1",
                "type": "action",
                "event": "Charged",
                "where": [{"property": "amount", "op": "gt", "value": 0}],
            },
            {
                "id": "g2",
                "type": "past_behaviour",
                "window_days": 1,
                "conditions": [{"kind": "profile", "property": "vip", "op": "eq", "value": True}],
            },
        ],
        "layout": {"entry": {"x": 0, "y": 0}},
    }
