"""The Celery application shared by the web process, the worker and the scheduler."""

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeys_site.settings")

app = Celery("journeys")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fixup closes the database connection before and after every task unless
# this is set: a new PostgreSQL connection per task (10-20 ms, more than most tasks' own
# work). With it set, tasks keep their connection as Django's requests do: CONN_MAX_AGE and
# the health checks decide, before and after each task (``_close_old_connections``); the
# fixup itself only closes every 2 x this many tasks.
app.conf["CELERY_DB_REUSE_MAX"] = 10_000
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task: Any = None, **_: Any) -> None:
    """Close connections that broke (a database restart) or outlived CONN_MAX_AGE, as
    Django does around a request; the next query reconnects. An eager task runs inside its
    caller's transaction and keeps the connection."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections, connections

    close_old_connections()
    # A connection a database restart broke while idle has seen no error yet, and the
    # engine's server-side cursors skip Django's health check: ping it (one round trip)
    # so the task reconnects instead of failing and waiting out a retry's backoff.
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and not conn.is_usable():
            conn.close()


_declared_at = 0.0


def ensure_queue_bindings(every: float = 5.0) -> None:
    """Declare the task queues and their bindings again, at most every ``every`` seconds.

    The Redis transport keeps each exchange -> queue binding in a Redis key; a Redis that
    restarts without persistence forgets them, and until the consuming worker reconnects
    kombu sets what is published to that queue aside as undeliverable. The ticker calls
    this each second, so a lost binding comes back within seconds and the engine's sweeps
    send the lost work again. Declaring an existing queue changes nothing.
    """
    import time

    from django.conf import settings
    from kombu import Exchange, Queue

    global _declared_at
    now = time.monotonic()
    if now - _declared_at < every:
        return
    _declared_at = now
    names = {settings.CELERY_TASK_DEFAULT_QUEUE}
    names.update(route["queue"] for route in settings.CELERY_TASK_ROUTES.values())
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for name in sorted(names):
            Queue(name, Exchange(name, type="direct"), routing_key=name)(channel).declare()
