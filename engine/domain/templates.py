"""Liquid templates of message content: syntax checks and rendering with a shared environment."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from liquid import BoundTemplate, Environment
from liquid.exceptions import LiquidError

__all__ = ["TemplateError", "render", "template_errors"]


class _Environment(Environment):
    # Templates are written by marketers and rendered for millions of users: keep a bad one
    # from eating a worker.
    loop_iteration_limit = 10_000
    output_stream_limit = 1_000_000
    context_depth_limit = 30


ENV = _Environment()


class TemplateError(ValueError):
    """A template that cannot be parsed or rendered; the message is for the marketer."""


def _describe(error: LiquidError, source: str) -> str:
    message = str(error.message) if error.message is not None else "invalid template"
    token = error.token
    if token is not None and 0 <= token.start_index <= len(source):
        line = source.count("\n", 0, token.start_index) + 1
        return f"{message} (line {line})"
    return message


@lru_cache(maxsize=512)
def _parse(source: str) -> tuple[BoundTemplate | None, str | None]:
    try:
        template = ENV.from_string(source)
    except LiquidError as error:
        return None, _describe(error, source)
    except (RecursionError, ValueError) as error:  # pathological nesting
        return None, f"invalid template: {error}"
    for name, spans in template.analyze().filters.items():
        if name not in ENV.filters:
            index = spans[0].index if spans else -1
            where = f" (line {source.count(chr(10), 0, index) + 1})" if index >= 0 else ""
            return None, f"unknown filter '{name}'{where}"
    return template, None


def template_errors(source: str) -> str | None:
    """Return why ``source`` is not a valid Liquid template, or ``None`` when it is."""
    return _parse(source)[1]


def render(source: str, context: Mapping[str, Any]) -> str:
    """Render ``source`` with ``context``; undefined variables render as empty text.

    Raises ``TemplateError`` for a template that does not parse or fails while rendering
    (e.g. a filter given the wrong kind of argument).
    """
    template, problem = _parse(source)
    if template is None:
        raise TemplateError(problem or "invalid template")
    try:
        return template.render(**dict(context))
    except LiquidError as error:
        raise TemplateError(_describe(error, source)) from error
