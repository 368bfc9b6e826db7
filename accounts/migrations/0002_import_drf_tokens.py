"""Carry DRF's plaintext tokens (rest_framework.authtoken) over as hashed, expiring tokens.

Scripts holding a token from before keep working until it expires; the plaintext table
is emptied so no usable secret stays in the database.
"""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import migrations
from django.utils import timezone


def import_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if "authtoken_token" not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("accounts", "ApiToken")
    now = timezone.now()
    expires = now + timedelta(days=settings.JOURNEYS_TOKEN_TTL_DAYS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, user_id FROM authtoken_token")
        rows = cursor.fetchall()
        for key, user_id in rows:
            ApiToken.objects.get_or_create(
                key_hash=hashlib.sha256(key.encode()).hexdigest(),
                defaults={
                    "user_id": user_id,
                    "prefix": key[:8],
                    "name": "imported",
                    "created_at": now,
                    "expires_at": expires,
                },
            )
        cursor.execute("DELETE FROM authtoken_token")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(import_tokens, migrations.RunPython.noop)]
