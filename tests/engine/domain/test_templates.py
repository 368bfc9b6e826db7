import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain import TemplateError, render, template_errors


@pytest.mark.parametrize(
    ("source", "context", "expected"),
    [
        ("Hi {{ profile.first_name | default: 'there' }}", {"profile": {}}, "Hi there"),
        (
            "Hi {{ profile.first_name | default: 'there' }}",
            {"profile": {"first_name": "Ana"}},
            "Hi Ana",
        ),
        ('Hi {{ profile.first_name | default: "there" }}', {}, "Hi there"),
        ("{{ nothing.at.all }}!", {}, "!"),
        (
            "{{ event.properties.item | upcase }}",
            {"event": {"properties": {"item": "shoes"}}},
            "SHOES",
        ),
        ("{% if profile.vip %}VIP{% else %}no{% endif %}", {"profile": {"vip": True}}, "VIP"),
        ("{% for t in tags %}{{ t }},{% endfor %}", {"tags": ["a", "b"]}, "a,b,"),
        ("plain", {}, "plain"),
    ],
)
def test_render(source, context, expected):
    assert render(source, context) == expected


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("Hi {{ name ", "line 1"),
        ("a\nb\n{% if %}", "line 3"),
        ("{% for x in y %}", "endfor"),
        ("{% nosuchtag %}", "nosuchtag"),
        ("line\n{{ x | nosuchfilter }}", "unknown filter 'nosuchfilter' (line 2)"),
    ],
)
def test_template_errors_describe_the_problem(source, fragment):
    problem = template_errors(source)
    assert problem is not None
    assert fragment in problem


@pytest.mark.parametrize(
    "source", ["", "Hi", "{{ a | default: 'b' }}", "{% if a %}{{ a }}{% endif %}"]
)
def test_valid_templates_have_no_errors(source):
    assert template_errors(source) is None


def test_render_of_an_invalid_template_raises_template_error():
    with pytest.raises(TemplateError):
        render("{{ x | nosuchfilter }}", {})
    with pytest.raises(TemplateError):
        render("{% if %}", {})


LIQUID_BITS = st.sampled_from(
    [
        "{{",
        "}}",
        "{%",
        "%}",
        "if",
        "for",
        "endif",
        "|",
        ":",
        "'",
        '"',
        "x",
        " ",
        "\n",
        "default",
        "..",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(LIQUID_BITS | st.text(max_size=3), max_size=30).map("".join))
def test_template_errors_never_raises(source):
    problem = template_errors(source)
    assert problem is None or isinstance(problem, str)
    if problem is None:
        with contextlib.suppress(TemplateError):
            render(source, {"x": [1, 2], "profile": {}})
