"""Test settings: the real settings with an in-memory broker and fast password hashing."""

import os

os.environ.setdefault(
    "JOURNEYS_VAR_DIR", os.path.join(os.path.dirname(__file__), "..", "var", "test")
)

from journeys_site.settings import *  # noqa: F403

CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Parallel runs on one server (developers, helpers, CI) need their own test database.
if DATABASE_IS_POSTGRES:  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": "test_journeys_" + os.environ.get("JOURNEYS_TEST_DB", "main")
    }
CELERY_BROKER_TRANSPORT = None  # the URL's scheme (memory) decides
