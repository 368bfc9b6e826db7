"""Steps record the branch taken: a ``branch`` column, filled for existing yes/no steps."""

from django.db import migrations, models

# SQLite rebuilds engine_step for these changes, which its row trigger on
# engine_enrollment (migration 0007) names: take the trigger off while it does.
SQLITE_TRIGGER = """
CREATE TRIGGER enrollment_delete_steps AFTER DELETE ON engine_enrollment
BEGIN
    DELETE FROM engine_step WHERE enrollment_id = OLD.id;
END
"""


def _sqlite_trigger_off(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS enrollment_delete_steps")


def _sqlite_trigger_on(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [("engine", "0011_message_statuses_and_vapid_keys")]

    operations = [
        migrations.RunPython(_sqlite_trigger_off, _sqlite_trigger_on),
        migrations.AddField(
            model_name="step",
            name="branch",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AlterField(
            model_name="step",
            name="outcome",
            field=models.CharField(
                blank=True,
                choices=[
                    ("next", "Moved on"),
                    ("yes", "Yes path"),
                    ("no", "No path"),
                    ("exit", "Exited here"),
                    ("end", "End of path"),
                    ("moved", "Moved by a new version"),
                    ("branch", "Named branch"),
                ],
                default="",
                max_length=6,
            ),
        ),
        migrations.RunSQL(
            "UPDATE engine_step SET branch = outcome WHERE outcome IN ('yes', 'no')",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.RunPython(_sqlite_trigger_on, _sqlite_trigger_off),
    ]
