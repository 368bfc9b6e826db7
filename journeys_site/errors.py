"""The one place that builds HTTP error bodies and turns errors into answers.

Every JSON error the site sends is built here, in the shapes clients depend on
(CONTRACT.md; docs/api.md "Errors"):

- ``{"detail": "..."}`` (plus named facts, e.g. a 409's ``status`` or ``revision``):
  not found, forbidden, not signed in, locked out, malformed JSON, conflicts;
- ``{"<field>": ["..."]}``: a field or query parameter refused (DRF's validation shape);
- ``{"definition": [{"path", "message"}]}`` and ``{"in_flight": [...]}``: a journey
  definition or an in-flight choice refused, one entry per problem with its path;
- ``{"errors": [{"index", "field", "message"}]}``: every answer of the ingest endpoints.

Views raise their domain errors (or DRF's) and let ``exception_handler`` answer; the few
answers made without an exception (404 of an unknown URL, a locked-out sign-in) take their
body from the builders below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

NOT_FOUND = "Not found."


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


# -- exceptions to answers (REST_FRAMEWORK["EXCEPTION_HANDLER"]) ---------------------------------


def _domain_answer(exc: Exception) -> tuple[int, dict[str, Any]] | None:
    """The status and body of one of our domain errors, or None for any other exception."""
    from accounts.services import InvitationError
    from builder.in_flight import InFlightInvalid
    from builder.services import ImportInvalid, RevisionConflict, TransitionRefused
    from engine.domain.errors import DefinitionInvalid
    from engine.selectors import Forbidden, NotFound
    from engine.services import ProjectError
    from stats.frames import FrameInvalid

    if isinstance(exc, ApiError):
        return exc.status_code, exc.body
    if isinstance(exc, NotFound):
        return status.HTTP_404_NOT_FOUND, not_found()
    if isinstance(exc, Forbidden):
        return status.HTTP_403_FORBIDDEN, detail(str(exc))
    if isinstance(exc, DefinitionInvalid):
        return status.HTTP_400_BAD_REQUEST, paths("definition", exc.errors)
    if isinstance(exc, InFlightInvalid):
        return status.HTTP_400_BAD_REQUEST, paths("in_flight", exc.errors)
    if isinstance(exc, TransitionRefused):
        return status.HTTP_409_CONFLICT, detail(exc.message, status=exc.status)
    if isinstance(exc, RevisionConflict):
        return status.HTTP_409_CONFLICT, detail(str(exc), revision=exc.revision)
    if isinstance(exc, ImportInvalid | ProjectError | InvitationError | FrameInvalid):
        return status.HTTP_400_BAD_REQUEST, field(exc.field, exc.message)
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Our domain errors by their shape above; the rest as DRF answers them
    (``{"detail"}`` or ``{"<field>": [...]}``)."""
    answer = _domain_answer(exc)
    if answer is not None:
        return response(*answer)
    return drf_exception_handler(exc, context)


def ingest_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The ingest endpoints' handler: every answer in the ingest shape, so SDKs parse one
    format (an ``IngestError`` says its items and status; DRF's 401/403 ``detail`` becomes one
    item with no index or field)."""
    from engine.ingest import IngestError

    if isinstance(exc, IngestError):
        return response(exc.status, ingest(exc.errors))
    answer = exception_handler(exc, context)
    if (
        answer is not None
        and answer.status_code in (401, 403)
        and isinstance(answer.data, dict)
        and "detail" in answer.data
    ):
        answer.data = ingest([ingest_item(None, None, str(answer.data["detail"]))])
    return answer
