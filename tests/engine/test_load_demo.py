"""``manage.py load_demo``: the demo project, its login and sample data, idempotently."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from rest_framework.test import APIClient

from engine.models import Event, Membership, Profile, Project

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def var_dir(settings: Any, tmp_path: Path) -> Path:
    settings.VAR_DIR = tmp_path
    return tmp_path


def load_demo() -> str:
    out = StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def counts() -> tuple[int, ...]:
    return (
        Project.objects.count(),
        Profile.objects.count(),
        Event.objects.count(),
        Membership.objects.count(),
    )


def test_load_demo_creates_the_demo_project_with_profiles_and_events() -> None:
    output = load_demo()
    project = Project.objects.get(name="Demo Store")
    assert Profile.objects.filter(project=project).count() >= 300
    assert Event.objects.filter(project=project).count() >= 300
    names = set(Event.objects.filter(project=project).values_list("name", flat=True))
    assert {"Page Viewed", "Added To Cart", "Charged"} <= names
    assert Membership.objects.get(project=project).role == "admin"
    assert project.ingest_key in output


def test_load_demo_prints_a_login_that_works() -> None:
    output = load_demo()
    match = re.search(r"username '([^']+)', password '([^']+)'", output)
    assert match, output
    username, password = match.groups()
    user = authenticate(username=username, password=password)
    assert user is not None
    assert user.is_staff
    token = APIClient().post(
        "/api/v1/auth/token", {"username": username, "password": password}, format="json"
    )
    assert token.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    assert [p["name"] for p in client.get("/api/v1/projects").json()] == ["Demo Store"]


def test_a_second_load_demo_adds_nothing_and_prints_the_same_login() -> None:
    first = load_demo()
    before = counts()
    second = load_demo()
    assert counts() == before
    assert first == second
