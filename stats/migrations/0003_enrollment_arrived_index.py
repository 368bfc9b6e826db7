"""A partial index for the per-block "arrived" figure: active users not parked at a path end,
by block and arrival time (PostgreSQL; built without blocking the engine's writes)."""

from typing import Any

from django.db import migrations

CREATE = """
CREATE INDEX CONCURRENTLY IF NOT EXISTS stats_enrollment_arrived
ON engine_enrollment (journey_id, node, node_entered_at)
WHERE state = 'active' AND node_state <> 'done'
"""
DROP = "DROP INDEX CONCURRENTLY IF EXISTS stats_enrollment_arrived"


def _create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def _drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("stats", "0002_enrollmenthour")]

    operations = [migrations.RunPython(_create, _drop)]
