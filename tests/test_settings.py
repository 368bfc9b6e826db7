"""Settings fail loudly on bad environment values (ImproperlyConfigured at start)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETUP = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='journeys_site.settings'; "
    "django.setup(); from django.conf import settings; "
    "print(settings.DATABASES['default']['ENGINE'], settings.DEBUG)"
)
VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "JOURNEYS_DEBUG",
    "EMAIL_URL",
    "JOURNEYS_WEBHOOK_ALLOW_PRIVATE",
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_SECRET_KEY",
)


def start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    clean.update(env, JOURNEYS_VAR_DIR=str(tmp_path / "var"))
    return subprocess.run(
        [sys.executable, "-c", SETUP],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "env",
    [
        {"DATABASE_URL": "mysql://x"},
        {"DATABASE_URL": "not a url"},
        {"REDIS_URL": "http://x"},
        {"JOURNEYS_DEBUG": "maybe"},
        {"JOURNEYS_WEBHOOK_ALLOW_PRIVATE": "2"},
        {"EMAIL_URL": "http://mail.example.com"},
    ],
    ids=lambda env: "-".join(f"{k}={v}" for k, v in env.items()),
)
def test_a_bad_setting_fails_at_start_with_improperly_configured(
    tmp_path: Path, env: dict[str, str]
) -> None:
    result = start(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    name = next(iter(env))
    assert name in result.stderr or name.split("_")[0] in result.stderr


def test_with_no_settings_the_embedded_default_is_sqlite_in_var(tmp_path: Path) -> None:
    result = start(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "False"]
    assert (tmp_path / "var" / "secret_key").exists()
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o077 == 0


def test_good_values_are_accepted(tmp_path: Path) -> None:
    result = start(
        tmp_path,
        DATABASE_URL="postgres://u:p@db.example.com:5432/journeys",
        REDIS_URL="redis://localhost:6379/0",
        JOURNEYS_DEBUG="yes",
        EMAIL_URL="smtp://mail.example.com:25",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "True"]


def test_the_secret_key_is_kept_across_starts(tmp_path: Path) -> None:
    assert start(tmp_path).returncode == 0
    key = (tmp_path / "var" / "secret_key").read_text()
    assert start(tmp_path).returncode == 0
    assert (tmp_path / "var" / "secret_key").read_text() == key
