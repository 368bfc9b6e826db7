"""The ingest inbox gets its own word: PendingEvents becomes EventInbox (table and indexes).

"pending" stays the node state of an arrival not yet processed (Enrollment.node_state).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("engine", "0014_channel_settings"),
    ]

    operations = [
        migrations.RenameModel(old_name="PendingEvents", new_name="EventInbox"),
        migrations.RenameIndex(
            model_name="eventinbox",
            new_name="event_inbox_project",
            old_name="pending_events_project",
        ),
        migrations.RenameIndex(
            model_name="eventinbox",
            new_name="event_inbox_age",
            old_name="pending_events_age",
        ),
    ]
