"""The Celery application shared by the web process, the worker and the scheduler."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeys_site.settings")

app = Celery("journeys")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
