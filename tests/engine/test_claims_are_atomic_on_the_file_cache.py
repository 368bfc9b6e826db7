"""Slots of handed-out work: on the embedded file cache, only one of many racers wins a claim."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.filebased import FileBasedCache
from django.test import override_settings

from engine import claims

RACERS = 8


def _race(take: Any) -> int:
    start = threading.Barrier(RACERS)
    wins: list[bool] = []

    def racer() -> None:
        start.wait()
        wins.append(take())

    threads = [threading.Thread(target=racer) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(wins)


@pytest.fixture
def slow_file_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A file cache whose "is the key there?" takes a moment, as under load."""
    real = FileBasedCache.has_key

    def has_key(self: FileBasedCache, *args: Any, **kwargs: Any) -> bool:
        found = real(self, *args, **kwargs)
        time.sleep(0.02)
        return found

    monkeypatch.setattr(FileBasedCache, "has_key", has_key)
    location = {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache"}
    with override_settings(CACHES={"default": {**location, "LOCATION": str(tmp_path)}}):
        caches["default"].clear()
        yield caches["default"]


def test_the_file_caches_own_add_lets_several_racers_win(slow_file_cache: Any) -> None:
    # The defect this module exists for: "has the key? then set it".
    assert _race(lambda: slow_file_cache.add("journeys:due:x", 1, timeout=60)) > 1


def test_one_racer_wins_a_claim_on_the_file_cache(slow_file_cache: Any) -> None:
    assert _race(lambda: claims.claim("journeys:due:x", 60)) == 1
    assert claims.claim("journeys:due:x", 60) is False


def test_a_released_claim_can_be_taken_again(slow_file_cache: Any) -> None:
    assert claims.claim("journeys:inbox:1", 30) is True
    claims.release("journeys:inbox:1")
    assert claims.claim("journeys:inbox:1", 30) is True
