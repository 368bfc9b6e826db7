"""The one place that builds HTTP error bodies and turns errors into answers.

Every JSON error the site sends is built here, in the shapes clients depend on
(CONTRACT.md; docs/api.md "Errors"):

- ``{"detail": "..."}`` (plus named facts, e.g. a 409's ``status`` or ``revision``):
  not found, forbidden, not signed in, locked out, malformed JSON, conflicts;
- ``{"<field>": ["..."]}``: a field or query parameter refused (DRF's validation shape);
- ``{"definition": [{"path", "message"}]}`` and ``{"in_flight": [...]}``: a journey
  definition or an in-flight choice refused, one entry per problem with its path;
- ``{"errors": [{"index", "field", "message"}]}``: every answer of the ingest endpoints.

Views raise their domain errors (or DRF's) and journeys_site/exceptions.py (DRF's
``EXCEPTION_HANDLER``) answers them with bodies from here; the few answers made without
an exception (404 of an unknown URL, a locked-out sign-in) take their body from here too.
This module imports none of the apps (the engine's API uses it), so the apps' layers hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, cast

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response

NOT_FOUND = "Not found."

Handler = Callable[[Exception, dict[str, Any]], Response | None]


class PathError(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def message(self) -> str: ...


# -- bodies ------------------------------------------------------------------------------------


def detail(message: str, **facts: Any) -> dict[str, Any]:
    """``{"detail": message, **facts}``."""
    return {"detail": message, **facts}


def not_found() -> dict[str, Any]:
    return detail(NOT_FOUND)


def field(name: str, *messages: str) -> dict[str, list[str]]:
    """``{name: [messages]}``: what DRF answers for a field it refuses."""
    return {name: list(messages)}


def fields(problems: Mapping[str, str]) -> dict[str, list[str]]:
    """``{name: [message], ...}``: several fields refused at once (one message each)."""
    return {name: [message] for name, message in problems.items()}


def paths(key: str, errors: Iterable[PathError]) -> dict[str, list[dict[str, str]]]:
    """``{key: [{"path", "message"}, ...]}``: a definition's (or in-flight choice's) problems."""
    return {key: [{"path": e.path, "message": e.message} for e in errors]}


def ingest_item(index: int | None, field_name: str | None, message: str) -> dict[str, Any]:
    """One problem of an ingest request: which item (``index``), which field, what."""
    return {"index": index, "field": field_name, "message": message}


def ingest(items: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"errors": [...]}``: the one error shape of every ingest answer."""
    return {"errors": items}


# -- answers without an exception --------------------------------------------------------------


def json_response(status_code: int, body: dict[str, Any]) -> JsonResponse:
    """A plain Django view's JSON error (outside DRF)."""
    return JsonResponse(body, status=status_code)


def response(status_code: int, body: dict[str, Any]) -> Response:
    """A DRF view's error answer made without raising."""
    return Response(body, status=status_code)


class ApiError(Exception):
    """An error whose HTTP status and body (built above) are decided where it is raised."""

    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        super().__init__(str(body))
        self.status_code = status_code
        self.body = body


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for a URL no route matches: JSON under /api/ (as every API answer), else the page."""
    if request.path.startswith("/api/"):
        return json_response(status.HTTP_404_NOT_FOUND, not_found())
    return defaults.page_not_found(request, exception)


class OutOfRangeIsNotFound:
    """Middleware: an id past what the database holds (the driver's OverflowError, e.g. SQLite
    and ``/api/v1/projects/99999999999999999999999``) is a 404 like any other missing row."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OverflowError):
            return None
        return page_not_found(request, Http404())


# -- the ingest endpoints' answers -------------------------------------------------------------


def ingest_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The ingest endpoints' handler: every answer in the ingest shape, so SDKs parse one
    format (an ``IngestError`` says its items and status; the site's handler answers the
    rest, and a 401/403 ``detail`` becomes one item with no index or field)."""
    from rest_framework.settings import api_settings

    from engine.ingest import IngestError

    if isinstance(exc, IngestError):
        return response(exc.status, ingest(exc.errors))
    # DRF's setting, imported (typed as its dotted path by the stubs).
    site_handler = cast(Handler, api_settings.EXCEPTION_HANDLER)
    answer = site_handler(exc, context)
    if (
        answer is not None
        and answer.status_code in (401, 403)
        and isinstance(answer.data, dict)
        and "detail" in answer.data
    ):
        answer.data = ingest([ingest_item(None, None, str(answer.data["detail"]))])
    return answer
