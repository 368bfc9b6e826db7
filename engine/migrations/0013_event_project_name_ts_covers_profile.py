"""event_project_name_ts covers profile_id: whole-project segments read only the index."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("engine", "0012_enrollment_quarantine"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="event", name="event_project_name_ts"),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(
                fields=["project", "name", "ts"],
                include=["profile"],
                name="event_project_name_ts",
            ),
        ),
    ]
