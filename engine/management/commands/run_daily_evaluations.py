"""``manage.py run_daily_evaluations --project <id>``: run that project's 12:00 am evaluations now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from engine.daily import run_daily_evaluations
from engine.models import Project


class Command(BaseCommand):
    help = "Run a project's 12:00 am evaluations now (Past Behaviour blocks with users waiting, Past Behaviour goals)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", type=int, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        if not Project.objects.filter(id=options["project"]).exists():
            raise CommandError(f"No project with id {options['project']}")
        counts = run_daily_evaluations(options["project"])
        self.stdout.write(
            f"Goal met: {counts['goal_met']}; users evaluated at Past Behaviour blocks: {counts['evaluated']}"
        )
