"""Real Chromium for browser tests: Debian's build driven by Playwright's sync API."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def launch_chromium() -> Iterator[Any]:
    """Yield a launched browser (use with ``yield from`` in a fixture of any scope)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop on this thread, which makes Django
    # believe it is in async code and refuse ORM calls (also the test database's
    # teardown). The tests themselves are synchronous, so allow it while the browser lives.
    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if saved is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


T = TypeVar("T")


def wait_for(fn: Callable[[], T], timeout: float = 8.0, step: float = 0.1) -> T:
    """Poll ``fn`` until it returns something truthy (or the time is up); return its last
    value. SQLite's in-memory test database is shared with the live server's thread
    through a shared cache, whose table locks fail at once instead of waiting: a read
    that meets the server's insert simply polls again."""
    from django.db import OperationalError

    deadline = time.monotonic() + timeout
    while True:
        try:
            result = fn()
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            result = None  # type: ignore[assignment]
        if result or time.monotonic() >= deadline:
            return result  # type: ignore[return-value]
        time.sleep(step)
