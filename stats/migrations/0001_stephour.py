"""Hourly rollup of the step log, kept by statement triggers on engine_step (PostgreSQL)."""

from typing import Any

from django.db import migrations, models

TRIGGERS = """
CREATE FUNCTION stats_stephour_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stats_stephour (journey_id, node, branch, hour, n, fresh)
    SELECT journey_id, node, branch, date_trunc('hour', entered_at, 'UTC'), count(*), true
    FROM new_rows GROUP BY 1, 2, 3, 4;
    RETURN NULL;
END $$;
CREATE FUNCTION stats_stephour_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stats_stephour (journey_id, node, branch, hour, n, fresh)
    SELECT journey_id, node, branch, date_trunc('hour', entered_at, 'UTC'), -count(*), true
    FROM old_rows GROUP BY 1, 2, 3, 4;
    RETURN NULL;
END $$;
CREATE FUNCTION stats_stephour_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stats_stephour (journey_id, node, branch, hour, n, fresh)
    SELECT journey_id, node, branch, hour, sum(n), true FROM (
        SELECT journey_id, node, branch, date_trunc('hour', entered_at, 'UTC') AS hour, 1 AS n
        FROM new_rows
        UNION ALL
        SELECT journey_id, node, branch, date_trunc('hour', entered_at, 'UTC'), -1 FROM old_rows
    ) d GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0;
    RETURN NULL;
END $$;
CREATE TRIGGER stats_stephour_insert AFTER INSERT ON engine_step
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stats_stephour_insert();
CREATE TRIGGER stats_stephour_delete AFTER DELETE ON engine_step
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION stats_stephour_delete();
CREATE TRIGGER stats_stephour_update AFTER UPDATE ON engine_step
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stats_stephour_update();
INSERT INTO stats_stephour (journey_id, node, branch, hour, n, fresh)
    SELECT journey_id, node, branch, date_trunc('hour', entered_at, 'UTC'), count(*), false
    FROM engine_step GROUP BY 1, 2, 3, 4;
"""

DROP = """
DROP TRIGGER IF EXISTS stats_stephour_insert ON engine_step;
DROP TRIGGER IF EXISTS stats_stephour_delete ON engine_step;
DROP TRIGGER IF EXISTS stats_stephour_update ON engine_step;
DROP FUNCTION IF EXISTS stats_stephour_insert();
DROP FUNCTION IF EXISTS stats_stephour_delete();
DROP FUNCTION IF EXISTS stats_stephour_update();
"""


def _triggers(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGERS)


def _drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    initial = True

    dependencies = [("engine", "0010_step_branch")]

    operations = [
        migrations.CreateModel(
            name="StepHour",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("journey_id", models.BigIntegerField()),
                ("node", models.CharField(max_length=64)),
                ("branch", models.CharField(blank=True, default="", max_length=64)),
                ("hour", models.DateTimeField()),
                ("n", models.BigIntegerField()),
                ("fresh", models.BooleanField(default=True)),
            ],
            options={
                "indexes": [
                    models.Index(fields=["journey_id", "hour"], name="stephour_journey_hour"),
                    models.Index(
                        condition=models.Q(("fresh", True)),
                        fields=["journey_id"],
                        name="stephour_fresh",
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("fresh", False)),
                        fields=("journey_id", "node", "branch", "hour"),
                        name="stephour_settled_once",
                    )
                ],
            },
        ),
        migrations.RunPython(_triggers, _drop),
    ]
