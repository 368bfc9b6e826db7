"""The email block's tracking options: on by default, "off" turns each off, anything else
is refused where it is; the registry describes them for the canvas."""

from __future__ import annotations

from typing import Any

import pytest

from engine.domain import REGISTRY, parse_definition, validate

from .helpers import inside, paths

EMAIL = {"id": "m", "type": "email", "subject": "Hi", "html": "<p>Hi</p>"}


def content(**extra: Any) -> Any:
    return parse_definition(inside({**EMAIL, **extra})).node("m").content


def test_tracking_is_on_unless_turned_off() -> None:
    assert (content()["track_opens"], content()["track_clicks"]) == (True, True)
    off = content(track_opens="off", track_clicks="off")
    assert (off["track_opens"], off["track_clicks"]) == (False, False)
    assert content(track_opens="on", track_clicks="off")["track_clicks"] is False


@pytest.mark.parametrize("value", ["maybe", True, 1, ""])
def test_another_value_is_refused_at_its_field(value: Any) -> None:
    errors = validate(inside({**EMAIL, "track_clicks": value}))
    assert paths(errors) == ["nodes[0].track_clicks"]
    assert "use one of: on, off" in errors[0].message


def test_the_registry_describes_both_for_the_canvas() -> None:
    fields = {f.name: f for f in REGISTRY["email"].fields}
    for name in ("track_opens", "track_clicks"):
        assert (fields[name].kind, fields[name].choices, fields[name].default) == (
            "choice",
            ("on", "off"),
            "on",
        )
    assert "track_opens" not in {f.name for f in REGISTRY["sms"].fields}
