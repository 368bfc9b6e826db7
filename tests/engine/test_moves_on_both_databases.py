"""Every move is written once, as SQL both databases run: the same journeys on SQLite and
on PostgreSQL leave the same enrollment, step and message rows.

The scenario (tests/engine/flows/moves_scenario.py) runs in two pytest processes, one
on SQLite (the embedded default) and one on PostgreSQL, each in a database of its own
(``test_journeys_<JOURNEYS_TEST_DB>_moves`` on the server of ``DATABASE_URL`` when that
is PostgreSQL, else of ``JOURNEYS_TEST_POSTGRES_URL``, else 127.0.0.1:5432), on the same
fixed clock; each writes its rows, normalised (no ids), as JSON. The two must be equal,
and the scenario must have run every block kind's moves.
"""

from __future__ import annotations

import difflib
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from engine.domain import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "tests" / "engine" / "flows" / "moves_scenario.py"
CHANNELS = ("PUSH", "WEB_PUSH", "EMAIL", "SMS", "IN_APP", "WEBHOOK")
SECRET_KEY = secrets.token_urlsafe(32)


def _postgres_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if urlparse(url).scheme in ("postgres", "postgresql"):
        return url
    return os.environ.get("JOURNEYS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")


def _start(database_url: str | None, out: Path, var_dir: Path) -> subprocess.Popen[str]:
    """The scenario in a pytest process of its own, on PostgreSQL or (None) SQLite."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "PYTEST_ADDOPTS")
        and not key.startswith("PYTEST_XDIST")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="journeys_site.settings_test",
        JOURNEYS_MOVES_OUT=str(out),
        JOURNEYS_VAR_DIR=str(var_dir),
        JOURNEYS_TEST_DB=os.environ.get("JOURNEYS_TEST_DB", "main") + "_moves",
        # The same key on both runs: signed links in messages (unsubscribe) come out equal.
        DJANGO_SECRET_KEY=SECRET_KEY,
        # Nothing leaves the machine: every channel records what it would send.
        **{f"JOURNEYS_{channel}_BACKEND": "record" for channel in CHANNELS},
    )
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", str(SCENARIO), "-q", "-x", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _rows(process: subprocess.Popen[str], where: str, out: Path) -> dict[str, Any]:
    try:
        output, _ = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, f"the scenario failed on {where}:\n{output[-6000:]}"
    return json.loads(out.read_text())


def _lines(rows: dict[str, Any]) -> list[str]:
    return [
        f"{table}: {json.dumps(row, sort_keys=True)}"
        for table, items in rows.items()
        for row in (items if isinstance(items, list) else [items])
    ]


def test_the_same_journeys_leave_the_same_rows_on_sqlite_and_postgresql(tmp_path: Path) -> None:
    # Both at once (each its own process and database): half the wait.
    on_sqlite = _start(None, tmp_path / "sqlite.json", tmp_path / "var-sqlite")
    on_postgres = _start(_postgres_url(), tmp_path / "postgres.json", tmp_path / "var-postgres")
    sqlite = _rows(on_sqlite, "SQLite", tmp_path / "sqlite.json")
    postgres = _rows(on_postgres, "PostgreSQL", tmp_path / "postgres.json")

    # The scenario ran every kind's moves: each inside kind was left at least once, each
    # entry kind let users in, messages went out on every channel, users left on yes, no
    # and named branches, and exits of every reason the moves write happened.
    steps = sqlite["steps"]
    left = {s["kind"] for s in steps if s["node"] != "entry"}
    entered = {s["kind"] for s in steps if s["node"] == "entry"}
    assert left >= {t.type for t in REGISTRY.values() if t.inside}, left
    assert entered >= {t.type for t in REGISTRY.values() if t.entry}, entered
    assert {m["channel"] for m in sqlite["messages"]} >= {
        t.type for t in REGISTRY.values() if t.category == "message"
    }
    assert {s["outcome"] for s in steps} >= {"yes", "no", "next", "branch", "exit"}
    assert {e["exit_reason"] for e in sqlite["enrollments"]} >= {
        "completed",
        "goal_met",
        "time_out",
    }
    assert {e["state"] for e in sqlite["enrollments"]} >= {"active", "cancelled", "exited"}
    # Wakes of each timer kind went through the set-based move.
    woken = {(s["kind"], s["outcome"]) for s in steps if s["detail"].get("happened") is False}
    assert woken >= {("action", "no"), ("inaction", "yes"), ("page_count", "no")}, woken
    assert any(s["kind"] == "delay" and "waited_seconds" in s["detail"] for s in steps)
    assert any(s["kind"] == "date_time" and s["outcome"] == "yes" for s in steps)

    if sqlite != postgres:
        diff = difflib.unified_diff(
            _lines(sqlite), _lines(postgres), "SQLite", "PostgreSQL", lineterm="", n=0
        )
        raise AssertionError("the moves differ between the databases:\n" + "\n".join(diff))
