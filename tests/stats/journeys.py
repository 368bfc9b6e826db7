"""Journey definitions the stats tests drive through the engine, one per attribution row."""

from __future__ import annotations

import copy
from typing import Any

# Entry -> push -> "opened" (Action inside, 2 h) -> yes -> mail. Goal: Charged.
GOALS_AND_CONVERSION: dict[str, Any] = {
    "settings": {"conversion_time": "P1D"},
    "entry": {"id": "entry", "type": "action", "event": "Added To Cart"},
    "nodes": [
        {
            "id": "push1",
            "type": "push",
            "title": "Still there?",
            "body": "Hi {{ profile.first_name | default: 'there' }}",
        },
        {"id": "opened", "type": "action", "event": "Opened App", "within": "PT2H"},
        {
            "id": "mail",
            "type": "email",
            "subject": "10% off",
            "html": "<p>Hi {{ profile.first_name }}</p>",
        },
    ],
    "edges": [
        {"from": "entry", "to": "push1"},
        {"from": "push1", "to": "opened"},
        {"from": "opened", "to": "mail", "branch": "yes"},
    ],
    "goals": [{"id": "bought", "type": "action", "event": "Charged"}],
}


def goals_only() -> dict[str, Any]:
    definition = copy.deepcopy(GOALS_AND_CONVERSION)
    definition["settings"] = {}
    return definition


# Entry -> "opened" (30 min): yes -> mail; no -> wait (2 h) -> end. Conversion time 1 h.
CONVERSION_ONLY: dict[str, Any] = {
    "settings": {"conversion_time": "PT1H"},
    "entry": {"id": "entry", "type": "action", "event": "Added To Cart"},
    "nodes": [
        {"id": "opened", "type": "action", "event": "Opened App", "within": "PT30M"},
        {"id": "mail", "type": "email", "subject": "Welcome", "html": "<p>Hi</p>"},
        {"id": "wait", "type": "delay", "duration": "PT2H"},
    ],
    "edges": [
        {"from": "entry", "to": "opened"},
        {"from": "opened", "to": "mail", "branch": "yes"},
        {"from": "opened", "to": "wait", "branch": "no"},
    ],
}


def neither() -> dict[str, Any]:
    """Entry -> "opened" (30 min): yes -> mail; no -> the path ends. No goal, no time limit."""
    definition = copy.deepcopy(CONVERSION_ONLY)
    definition["settings"] = {}
    definition["nodes"] = definition["nodes"][:2]
    definition["edges"] = definition["edges"][:2]
    return definition
