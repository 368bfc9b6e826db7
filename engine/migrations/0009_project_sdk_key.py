"""Public SDK key per project (existing projects get a fresh one); profile identity state."""

import secrets

from django.db import migrations, models

import engine.models


def fill_sdk_keys(apps, schema_editor):
    Project = apps.get_model("engine", "Project")
    for project in Project.objects.filter(sdk_key__isnull=True).only("pk"):
        project.sdk_key = "sdk_" + secrets.token_urlsafe(24)
        project.save(update_fields=["sdk_key"])


class Migration(migrations.Migration):
    dependencies = [("engine", "0008_due_index_names_the_block")]

    operations = [
        migrations.AddField(
            model_name="profile",
            name="anonymous",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name="profile",
            name="identified_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="project",
            name="ingest_key_seen_in_browser_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        # Three steps: one random key per existing row, then unique and required.
        migrations.AddField(
            model_name="project",
            name="sdk_key",
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.RunPython(fill_sdk_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="project",
            name="sdk_key",
            field=models.CharField(
                default=engine.models.new_sdk_key,
                help_text="Public key for web pages: events, identify, profile properties",
                max_length=64,
                unique=True,
            ),
        ),
        migrations.AlterField(
            model_name="project",
            name="ingest_key",
            field=models.CharField(
                default=engine.models.new_ingest_key,
                help_text="Server key: every ingest endpoint; never put it in a web page",
                max_length=64,
                unique=True,
            ),
        ),
    ]
