"""manage.py generate_data: profiles and events of a catalogue, power-law activity, unique client ids."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from engine.models import Event, Profile, Project


def generate(*args: str) -> str:
    out = StringIO()
    call_command("generate_data", *args, stdout=out)
    return out.getvalue()


def test_it_loads_the_asked_numbers_of_profiles_and_events_into_the_project(
    project: Project,
) -> None:
    before = timezone.now()
    generate("--profiles", "300", "--events", "6000", "--days", "30", "--project", str(project.id))
    assert Profile.objects.filter(project=project).count() == 300
    events = Event.objects.filter(project=project)
    assert events.count() == 6000
    assert events.values("client_id").distinct().count() == 6000
    assert events.filter(ts__lt=before - timedelta(days=30, minutes=1)).count() == 0
    assert events.filter(ts__gt=timezone.now()).count() == 0
    names = Counter(events.values_list("name", flat=True))
    assert 15 <= len(names) <= 20
    assert names.most_common(1)[0][0] == "Page Viewed"
    charged = events.filter(name="Charged").first()
    assert charged is not None
    assert isinstance(charged.properties["amount"], int | float)


def test_activity_follows_a_power_law(project: Project) -> None:
    generate("--profiles", "500", "--events", "10000", "--project", str(project.id))
    per_profile = sorted(
        Counter(
            Event.objects.filter(project=project).values_list("profile_id", flat=True)
        ).values(),
        reverse=True,
    )
    top_tenth = sum(per_profile[:50])
    assert top_tenth > 0.3 * 10000  # a uniform spread would give the top 10% about 13%


def test_without_a_project_it_makes_one(db: None) -> None:
    out = generate("--profiles", "5", "--events", "20")
    project = Project.objects.get(name__startswith="Generated")
    assert f"project {project.id}:" in out
    assert Event.objects.filter(project=project).count() == 20


@pytest.mark.skipif(connection.vendor != "postgresql", reason="index rebuild is PostgreSQL's")
def test_a_load_above_the_threshold_rebuilds_every_events_index(project: Project) -> None:
    def indexes() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname",
                [Event._meta.db_table],
            )
            return [row[0] for row in cursor.fetchall()]

    before = indexes()
    generate(
        "--profiles",
        "20",
        "--events",
        "500",
        "--rebuild-above",
        "100",
        "--project",
        str(project.id),
    )
    assert indexes() == before
    assert Event.objects.filter(project=project).count() == 500


def test_an_unknown_project_is_refused(db: None) -> None:
    with pytest.raises(CommandError, match="--project"):
        generate("--project", "999999")
