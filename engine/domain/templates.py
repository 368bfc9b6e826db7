"""Liquid templates of message content: syntax checks and rendering with a shared environment."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sized
from functools import lru_cache, wraps
from typing import Any

from liquid import BoundTemplate, Environment
from liquid.exceptions import LiquidError, ResourceLimitError

__all__ = [
    "MAX_SEQUENCE",
    "MAX_TEMPLATE_LENGTH",
    "MAX_TEXT",
    "TemplateError",
    "render",
    "template_errors",
]

MAX_TEMPLATE_LENGTH = 100_000  # characters of one template
MAX_TEXT = 1_000_000  # characters of any string a filter makes, and of the output
MAX_SEQUENCE = 10_000  # items of any list or range a filter takes or makes
MAX_INT = 2**63 - 1
# Tags that read other templates: messages are self-contained, there is nothing to load.
REFUSED_TAGS = frozenset({"include", "render"})


class _Environment(Environment):
    # Templates are written by marketers and rendered for millions of users: keep a bad one
    # from eating a worker. The namespace limit is in bytes (sys.getsizeof of assigned
    # values): it stops a string doubled by `assign` long before it reaches megabytes.
    loop_iteration_limit = 10_000
    output_stream_limit = MAX_TEXT
    local_namespace_limit = 2 * MAX_TEXT
    context_depth_limit = 30

    def setup_tags_and_filters(self, *, extra: bool = False) -> None:
        super().setup_tags_and_filters(extra=extra)
        for name, func in list(self.filters.items()):
            self.filters[name] = _bounded(func)


def _too_large(value: object) -> str | None:
    if isinstance(value, str):
        return f"text longer than {MAX_TEXT} characters" if len(value) > MAX_TEXT else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return "a number out of range" if not -MAX_INT <= value <= MAX_INT else None
    if isinstance(value, range):
        # len() of a huge range overflows; its bounds say how long it is.
        return (
            f"a range longer than {MAX_SEQUENCE}"
            if value.stop - value.start > MAX_SEQUENCE
            else None
        )
    if isinstance(value, Sized) and not isinstance(value, bytes | Mapping):
        return f"a list longer than {MAX_SEQUENCE} items" if len(value) > MAX_SEQUENCE else None
    return None


def _bounded(func: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that refuses oversized input and output, so no filter call builds megabytes
    (``(1..100000000) | join`` once took minutes) or numbers without bound."""

    @wraps(func)
    def bounded(left: object, *args: object, **kwargs: object) -> Any:
        for value in (left, *args):
            problem = _too_large(value)
            if problem:
                raise ResourceLimitError(f"{func.__name__}: {problem}", token=None)
        result = func(left, *args, **kwargs)
        problem = _too_large(result)
        if problem:
            raise ResourceLimitError(f"{func.__name__} made {problem}", token=None)
        return result

    return bounded


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


_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
MAX_GROUPS_PER_TAG = 100  # "(" or "[" in one tag: the expression parser is quadratic in them
# Parsing costs about 15 µs per character of tags: this keeps one template under ~0.3 s.
MAX_TAGS = 2_000
_RAW_OPEN = re.compile(r"\{%-?\s*(raw|doc)\s*-?%\}")
_RAW_CLOSE = re.compile(r"\{%-?\s*end(raw|doc)\s*-?%\}")


def _line(source: str, index: int) -> int:
    return source.count("\n", 0, index) + 1


def _unclosed(source: str) -> str | None:
    """An opening delimiter with no closing one after it, found in linear time.

    Liquid's lexer rescans to the end of the template from every such opener, which is
    quadratic (10,000 characters of ``{{`` took 10 s); a template without one lexes in one
    pass.
    """
    for opener, closer in (("{{", "}}"), ("{%", "%}")):
        last_open = source.rfind(opener)
        if last_open >= 0 and source.find(closer, last_open + len(opener)) < 0:
            return f"'{opener}' is never closed with '{closer}' (line {_line(source, last_open)})"
    openers = list(_RAW_OPEN.finditer(source))
    if openers:
        closers = list(_RAW_CLOSE.finditer(source))
        last_close = closers[-1].start() if closers else -1
        if openers[-1].start() > last_close:
            tag = openers[-1].group(1)
            return f"'{tag}' is never closed with 'end{tag}' (line {_line(source, openers[-1].start())})"
    for match in _TAG.finditer(source):
        tag = match.group()
        if tag.count("(") > MAX_GROUPS_PER_TAG or tag.count("[") > MAX_GROUPS_PER_TAG:
            return (
                f"a tag holds more than {MAX_GROUPS_PER_TAG} brackets "
                f"(line {_line(source, match.start())})"
            )
    return None


@lru_cache(maxsize=512)
def _parse(source: str) -> tuple[BoundTemplate | None, str | None]:
    if len(source) > MAX_TEMPLATE_LENGTH:
        return None, f"a template has at most {MAX_TEMPLATE_LENGTH} characters"
    if source.count("{{") + source.count("{%") > MAX_TAGS:
        return None, f"a template has at most {MAX_TAGS} tags and outputs"
    problem = _unclosed(source)
    if problem:
        return None, problem
    try:
        template = ENV.from_string(source)
        analysis = template.analyze(include_partials=False)
    except LiquidError as error:
        return None, _describe(error, source)
    except (RecursionError, ValueError) as error:  # pathological nesting
        return None, f"invalid template: {error}"
    for name, spans in analysis.tags.items():
        if name in REFUSED_TAGS:
            index = spans[0].index if spans else -1
            where = f" (line {_line(source, index)})" if index >= 0 else ""
            return None, f"'{name}' is not supported: a message template cannot load another{where}"
    for name, spans in analysis.filters.items():
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
    except (RecursionError, ArithmeticError, MemoryError) as error:
        raise TemplateError(f"the template failed: {type(error).__name__}") from error
