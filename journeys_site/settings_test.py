"""Test settings: the real settings with an in-memory broker and fast password hashing."""

import os

os.environ.setdefault(
    "JOURNEYS_VAR_DIR", os.path.join(os.path.dirname(__file__), "..", "var", "test")
)

from journeys_site.settings import *  # noqa: F403

CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
CELERY_TASK_ALWAYS_EAGER = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
