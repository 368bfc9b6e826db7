"""Upgrading: DRF's plaintext tokens become hashed, expiring tokens that keep working."""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db

migration = import_module("accounts.migrations.0002_import_drf_tokens")
OLD_KEY = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"


def test_an_old_token_keeps_working_and_its_plaintext_is_gone(marketer: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id integer NOT NULL)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s)", [OLD_KEY, marketer.pk])

    migration.import_tokens(apps, SimpleNamespace(connection=connection))

    token = ApiToken.objects.get(user=marketer)
    assert OLD_KEY not in token.key_hash
    assert token.expires_at > token.created_at
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {OLD_KEY}")
    assert client.get("/api/v1/projects").status_code == 200


def test_without_the_old_table_nothing_happens(marketer: Any) -> None:
    migration.import_tokens(apps, SimpleNamespace(connection=connection))
    assert not ApiToken.objects.exists()
