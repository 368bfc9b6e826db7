"""The entry/exit rollup's INSERT trigger runs once per statement, not once per row.

A journey's start inserts thousands of enrollments per statement (issue 12, mass entry);
the row trigger ran a PL/pgSQL call and wrote one rollup row per enrollment (about a
sixth of the server's time for an entry). Per statement, the inserted rows (a transition
table) are grouped into one rollup row per journey and hour. The same rows are counted:
entries of active or exited stays by ``entered_at``, exits by goal met, time-out or
completion at their block by ``exited_at``. UPDATE and DELETE keep their row triggers
(their WHEN clause fires them only for the rows whose counted columns change, so moves
that only change the block pay nothing).
"""

from typing import Any

from django.db import migrations

FORWARD = """
CREATE FUNCTION stats_enrollmenthour_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stats_enrollmenthour (journey_id, kind, node, reason, hour, n, fresh)
    SELECT journey_id, 'entry', '', '', date_trunc('hour', entered_at, 'UTC'), count(*), true
    FROM new_rows WHERE state IN ('active', 'exited') AND entered_at IS NOT NULL
    GROUP BY journey_id, date_trunc('hour', entered_at, 'UTC');
    INSERT INTO stats_enrollmenthour (journey_id, kind, node, reason, hour, n, fresh)
    SELECT journey_id, 'exit', exit_node, exit_reason, date_trunc('hour', exited_at, 'UTC'),
        count(*), true
    FROM new_rows WHERE state = 'exited' AND exited_at IS NOT NULL
        AND exit_reason IN ('goal_met', 'time_out', 'completed')
    GROUP BY journey_id, exit_node, exit_reason, date_trunc('hour', exited_at, 'UTC');
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS stats_enrollmenthour_insert ON engine_enrollment;
CREATE TRIGGER stats_enrollmenthour_insert AFTER INSERT ON engine_enrollment
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION stats_enrollmenthour_inserted();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS stats_enrollmenthour_insert ON engine_enrollment;
DROP FUNCTION IF EXISTS stats_enrollmenthour_inserted();
CREATE TRIGGER stats_enrollmenthour_insert AFTER INSERT ON engine_enrollment
    FOR EACH ROW WHEN (NEW.state IN ('active', 'exited'))
    EXECUTE FUNCTION stats_enrollmenthour();
"""


def _forward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def _backward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("stats", "0004_enrollment_active_index")]

    operations = [migrations.RunPython(_forward, _backward)]
