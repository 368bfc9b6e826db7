"""Hourly rollup of entries and exits, kept by row triggers on engine_enrollment (PostgreSQL)."""

from typing import Any

from django.db import migrations, models

# The rows a stay contributes: its entry (active or exited, by entered_at) and its exit
# (exited by goal met / time out / completed, at its exit block, by exited_at).
TRIGGERS = """
CREATE FUNCTION stats_enrollmenthour_rows(e engine_enrollment, sign integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF e.state IN ('active', 'exited') AND e.entered_at IS NOT NULL THEN
        INSERT INTO stats_enrollmenthour (journey_id, kind, node, reason, hour, n, fresh)
        VALUES (e.journey_id, 'entry', '', '', date_trunc('hour', e.entered_at, 'UTC'), sign, true);
    END IF;
    IF e.state = 'exited' AND e.exited_at IS NOT NULL
       AND e.exit_reason IN ('goal_met', 'time_out', 'completed') THEN
        INSERT INTO stats_enrollmenthour (journey_id, kind, node, reason, hour, n, fresh)
        VALUES (e.journey_id, 'exit', e.exit_node, e.exit_reason,
                date_trunc('hour', e.exited_at, 'UTC'), sign, true);
    END IF;
END $$;
CREATE FUNCTION stats_enrollmenthour() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM stats_enrollmenthour_rows(OLD, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM stats_enrollmenthour_rows(NEW, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER stats_enrollmenthour_insert AFTER INSERT ON engine_enrollment
    FOR EACH ROW WHEN (NEW.state IN ('active', 'exited'))
    EXECUTE FUNCTION stats_enrollmenthour();
CREATE TRIGGER stats_enrollmenthour_delete AFTER DELETE ON engine_enrollment
    FOR EACH ROW WHEN (OLD.state IN ('active', 'exited'))
    EXECUTE FUNCTION stats_enrollmenthour();
CREATE TRIGGER stats_enrollmenthour_update AFTER UPDATE ON engine_enrollment
    FOR EACH ROW WHEN (
        (OLD.state, OLD.entered_at, OLD.exited_at, OLD.exit_reason, OLD.exit_node, OLD.journey_id)
        IS DISTINCT FROM
        (NEW.state, NEW.entered_at, NEW.exited_at, NEW.exit_reason, NEW.exit_node, NEW.journey_id)
    )
    EXECUTE FUNCTION stats_enrollmenthour();
INSERT INTO stats_enrollmenthour (journey_id, kind, node, reason, hour, n, fresh)
    SELECT journey_id, 'entry', '', '', date_trunc('hour', entered_at, 'UTC'), count(*), false
    FROM engine_enrollment
    WHERE state IN ('active', 'exited') AND entered_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5;
INSERT INTO stats_enrollmenthour (journey_id, kind, node, reason, hour, n, fresh)
    SELECT journey_id, 'exit', exit_node, exit_reason, date_trunc('hour', exited_at, 'UTC'),
        count(*), false
    FROM engine_enrollment
    WHERE state = 'exited' AND exited_at IS NOT NULL
        AND exit_reason IN ('goal_met', 'time_out', 'completed')
    GROUP BY 1, 2, 3, 4, 5;
"""

DROP = """
DROP TRIGGER IF EXISTS stats_enrollmenthour_insert ON engine_enrollment;
DROP TRIGGER IF EXISTS stats_enrollmenthour_delete ON engine_enrollment;
DROP TRIGGER IF EXISTS stats_enrollmenthour_update ON engine_enrollment;
DROP FUNCTION IF EXISTS stats_enrollmenthour();
DROP FUNCTION IF EXISTS stats_enrollmenthour_rows(engine_enrollment, integer);
"""


def _triggers(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGERS)


def _drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("stats", "0001_stephour"), ("engine", "0010_step_branch")]

    operations = [
        migrations.CreateModel(
            name="EnrollmentHour",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("journey_id", models.BigIntegerField()),
                ("kind", models.CharField(max_length=5)),
                ("node", models.CharField(blank=True, default="", max_length=64)),
                ("reason", models.CharField(blank=True, default="", max_length=10)),
                ("hour", models.DateTimeField()),
                ("n", models.BigIntegerField()),
                ("fresh", models.BooleanField(default=True)),
            ],
            options={
                "indexes": [
                    models.Index(fields=["journey_id", "hour"], name="enrollmenthour_journey_hour"),
                    models.Index(
                        condition=models.Q(("fresh", True)),
                        fields=["journey_id"],
                        name="enrollmenthour_fresh",
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("fresh", False)),
                        fields=("journey_id", "kind", "node", "reason", "hour"),
                        name="enrollmenthour_settled_once",
                    )
                ],
            },
        ),
        migrations.RunPython(_triggers, _drop),
    ]
