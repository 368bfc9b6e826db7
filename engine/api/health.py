"""GET /healthz: 200 once the database answers and a worker has checked in recently."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from engine.models import Heartbeat


def healthz(request: HttpRequest) -> JsonResponse:
    body: dict[str, object] = {"status": "ok", "database": connection.vendor}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        beat = Heartbeat.objects.filter(name="worker").first()
    except Exception as exc:  # any database failure means "not ready", with the reason
        return JsonResponse({"status": "unavailable", "database": f"error: {exc}"}, status=503)
    age = (timezone.now() - beat.seen_at).total_seconds() if beat else None
    body["worker_seen_seconds_ago"] = round(age, 1) if age is not None else None
    if age is None or age > settings.WORKER_HEARTBEAT_MAX_AGE:
        body["status"] = "starting" if beat is None else "worker_down"
        return JsonResponse(body, status=503)
    return JsonResponse(body)
