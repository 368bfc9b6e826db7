"""One partial index for the per-block counts of users in a journey now ("here now",
"arrived", stuck users): every active stay by block and arrival time, with its node state,
so the counts never read the table; it replaces stats_enrollment_arrived (PostgreSQL;
built without blocking the engine's writes)."""

from typing import Any

from django.db import migrations

CREATE = """
CREATE INDEX CONCURRENTLY IF NOT EXISTS stats_enrollment_active
ON engine_enrollment (journey_id, node, node_entered_at) INCLUDE (node_state)
WHERE state = 'active'
"""
DROP_OLD = "DROP INDEX CONCURRENTLY IF EXISTS stats_enrollment_arrived"
DROP_NEW = "DROP INDEX CONCURRENTLY IF EXISTS stats_enrollment_active"
CREATE_OLD = """
CREATE INDEX CONCURRENTLY IF NOT EXISTS stats_enrollment_arrived
ON engine_enrollment (journey_id, node, node_entered_at)
WHERE state = 'active' AND node_state <> 'done'
"""


def _forward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)
        schema_editor.execute(DROP_OLD)


def _backward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_OLD)
        schema_editor.execute(DROP_NEW)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("stats", "0003_enrollment_arrived_index")]

    operations = [migrations.RunPython(_forward, _backward)]
