"""The campaign details page says "no provider" per project: a project's own channel
settings silence it for that project only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from builder.models import Journey
from engine.channel_settings import channel_settings_write
from tests.stats.conftest import Engine, with_email
from tests.stats.journeys import GOALS_AND_CONVERSION

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.stats.urls")]


def test_the_campaign_page_stops_warning_once_the_project_has_its_own_smtp(
    engine: Engine, marketer: Any, settings: Any
) -> None:
    settings.EMAIL_URL = settings.JOURNEYS_EMAIL_ESP = settings.JOURNEYS_EMAIL_BACKEND = ""
    journey: Journey = engine.publish(GOALS_AND_CONVERSION, name="Cart rescue")
    with_email(engine, "ana", "ana@example.com", first_name="Ana")
    client = Client()
    client.force_login(marketer)
    page = f"/journeys/{journey.pk}/blocks/mail/campaign"
    assert "No provider is configured for this channel" in client.get(page).content.decode()
    channel_settings_write(
        project=journey.project,
        channel="email",
        data={"host": "smtp.example.com", "from_email": "shop@example.com"},
        replace=True,
    )
    assert "No provider is configured" not in client.get(page).content.decode()
