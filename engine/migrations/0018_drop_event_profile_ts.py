# The events table's indexes, each serving a named query (docs/performance.md, "Events
# table indexes"): event_profile_ts served only the admin's "a profile's last 50 events",
# which event_profile_name_ts (profile_id leading) serves as well, with a sort of that
# profile's events. One index less for every event written (ingest, generate_data).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("engine", "0017_limits"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="event", name="event_profile_ts"),
    ]
