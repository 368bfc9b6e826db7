"""The Celery application shared by the web process, the worker and the scheduler."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeys_site.settings")

app = Celery("journeys")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
