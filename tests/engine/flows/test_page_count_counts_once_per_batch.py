"""Users waiting at a Page Count block are counted with one query per batch, not one each."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.engine.flows.conftest import START, define, sms

pytestmark = pytest.mark.django_db


def _page_view_queries(engine: Any, users: int) -> tuple[int, Any]:
    journey = engine.publish(
        define(
            START,
            [
                {"id": "pages", "type": "page_count", "count": {"op": "gte", "value": 1}},
                sms("hi"),
            ],
            [("entry", "pages"), ("pages", "hi", "yes")],
        )
    )
    ids = [f"u{i}" for i in range(users)]
    for user in ids:
        engine.track(user, "Start")
    views = [
        {
            "profile_id": user,
            "name": "Page Viewed",
            "properties": {"url": "/a", "session_id": f"s-{user}"},
        }
        for user in ids
    ]
    with CaptureQueriesContext(connection) as seen:
        engine.events(*views)
    assert engine.sent_to(journey, "hi") == sorted(ids)
    counts = [
        q["sql"]
        for q in seen.captured_queries
        if "Page Viewed" in q["sql"] and "COUNT(" in q["sql"].upper()
    ]
    return len(counts), seen


@pytest.mark.parametrize("users", [2, 40])
def test_forty_waiting_users_take_one_page_count_query(engine: Any, users: int) -> None:
    count_queries, _ = _page_view_queries(engine, users)
    assert count_queries == 1
