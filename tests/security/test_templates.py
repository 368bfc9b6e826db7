"""Liquid is bounded: memory, output, template length and parse time; every template error is a 400 at save."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from builder.models import Journey
from engine.domain.templates import TemplateError, _parse, render, template_errors
from engine.models import Message, Project
from tests.engine.domain.examples import contract_example
from tests.security.conftest import Engine
from tests.stats.journeys import GOALS_AND_CONVERSION

# A 100-character template that doubled a string 24 times: 32 MB in the worker and the page.
DOUBLING_BOMB = '{% assign a = "xx" %}' + "{% assign a = a | append: a %}" * 24 + "{{ a }}"


@pytest.fixture(autouse=True)
def _no_parse_cache() -> None:
    _parse.cache_clear()


def test_the_doubling_bomb_stops_at_the_memory_bound() -> None:
    started = time.perf_counter()
    with pytest.raises(TemplateError, match="longer than 1000000 characters"):
        render(DOUBLING_BOMB, {})
    assert time.perf_counter() - started < 2


def test_a_huge_range_cannot_be_joined_into_memory() -> None:
    with pytest.raises(TemplateError, match="range longer than 10000"):
        render('{{ (1..100000000) | join: "," }}', {})


def test_numbers_made_by_filters_stay_in_range() -> None:
    source = "{% assign a = 99999 %}{% for i in (1..50) %}{% assign a = a | times: a %}{% endfor %}"
    with pytest.raises(TemplateError, match="out of range"):
        render(source, {})


def test_captured_output_is_bounded() -> None:
    source = "{% capture a %}{% for i in (1..10000) %}" + "x" * 200 + "{% endfor %}{% endcapture %}"
    with pytest.raises(TemplateError, match="limit"):
        render(source, {})


@pytest.mark.parametrize(
    "source",
    [
        "{{" * 5000,  # the lexer rescanned to the end from every opener: 10 s for 10,000
        "{%" * 5000,
        "{{ " + "(" * 9990 + " }}",  # the expression parser is quadratic in brackets
        "{% raw %}" * 1100,
        "{{ a }}" * 2001,
        "x" * 100_001,
    ],
)
def test_pathological_templates_are_refused_quickly(source: str) -> None:
    started = time.perf_counter()
    assert template_errors(source) is not None
    assert time.perf_counter() - started < 1


def test_an_ordinary_template_still_renders() -> None:
    source = "Hi {{ profile.first_name | default: 'there' | upcase }}, {{ 'a,b' | split: ',' | join: '+' }}"
    assert template_errors(source) is None
    assert render(source, {"profile": {"first_name": "Ana"}}) == "Hi ANA, a+b"


@pytest.mark.parametrize("tag", ["{% include 'header' %}", "{% render 'footer' %}"])
@pytest.mark.django_db
def test_include_and_render_are_a_400_at_save_with_the_path(
    api: APIClient, project: Project, tag: str
) -> None:
    definition = contract_example()
    definition["nodes"][1]["body"] = f"Hi {tag}"
    response = api.post(
        "/api/v1/journeys",
        {"project": project.pk, "name": "Include", "definition": definition},
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["definition"][0]
    assert error["path"] == "nodes[1].body"
    assert "not supported" in error["message"]


@pytest.mark.django_db
@pytest.mark.urls("tests.stats.urls")
def test_the_campaign_page_shows_a_failing_template_instead_of_a_500(
    engine: Engine, marketer: Any
) -> None:
    definition: dict[str, Any] = copy.deepcopy(GOALS_AND_CONVERSION)
    definition["nodes"][0]["body"] = DOUBLING_BOMB
    journey: Journey = engine.publish(definition, name="Bomb")
    engine.track("ana", "Added To Cart")
    engine.advance(minutes=1)
    message = Message.objects.get(node="push1")
    assert message.status == Message.Status.FAILED
    assert "longer than" in message.error
    client = Client()
    client.force_login(marketer)
    response = client.get(f"/journeys/{journey.pk}/blocks/push1/campaign")
    assert response.status_code == 200
    assert "longer than" in response.context["report"]["preview_error"]
