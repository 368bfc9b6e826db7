"""JOURNEYS_PUBLIC_URL (the address of the links in emails) is checked at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_settings import start


@pytest.mark.parametrize(
    "value", ["mail.example.com", "https://mail.example.com/path", "ftp://mail.example.com"]
)
def test_a_bad_public_url_fails_at_start(tmp_path: Path, value: str) -> None:
    result = start(tmp_path, JOURNEYS_PUBLIC_URL=value)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "JOURNEYS_PUBLIC_URL" in result.stderr


def test_a_good_public_url_starts(tmp_path: Path) -> None:
    assert start(tmp_path, JOURNEYS_PUBLIC_URL="https://mail.example.com:8443/").returncode == 0
