"""One place that turns errors into HTTP answers: DRF's handler plus our domain errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ApiError(Exception):
    """An error whose HTTP status and JSON body are decided where it is raised."""

    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        super().__init__(str(body))
        self.status_code = status_code
        self.body = body


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for a URL no route matches: JSON under /api/ (as every API answer), else the page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
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


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApiError):
        return Response(exc.body, status=exc.status_code)
    from engine.domain.errors import DefinitionInvalid
    from engine.selectors import Forbidden, NotFound

    if isinstance(exc, NotFound):
        return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, Forbidden):
        return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)

    if isinstance(exc, DefinitionInvalid):
        return Response(
            {"definition": [e.as_dict() for e in exc.errors]}, status=status.HTTP_400_BAD_REQUEST
        )
    return drf_exception_handler(exc, context)
