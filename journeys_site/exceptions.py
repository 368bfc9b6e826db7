"""DRF's exception handler for the whole site: each app's domain error to its HTTP status
and body (bodies from journeys_site/errors.py, the one place that builds them).

It names builder's, stats' and accounts' errors, so nothing in the engine imports it:
the engine's ingest views answer through ``errors.ingest_exception_handler``, which
reaches this handler through DRF's settings.
"""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from journeys_site.errors import ApiError, detail, field, not_found, paths, response


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
