"""``manage.py vapid_keys [--project <id>] [--rotate]``: make or show projects' web push VAPID keys."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from engine.channels.web_push import project_vapid_keys
from engine.models import Project


class Command(BaseCommand):
    help = (
        "Give projects their web push VAPID key pair (made on first use otherwise) and print "
        "the public keys. --rotate makes new ones: browsers subscribed with the old key must "
        "subscribe again (the SDK does so on its next journeys.webPush.subscribe())."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", type=int, help="Only this project (default: all)")
        parser.add_argument("--rotate", action="store_true", help="Replace existing keys")

    def handle(self, *args: Any, **options: Any) -> None:
        projects = Project.objects.order_by("pk")
        if options["project"] is not None:
            projects = projects.filter(pk=options["project"])
            if not projects.exists():
                raise CommandError(f"No project with id {options['project']}")
        for project_id, name in projects.values_list("pk", "name"):
            public, _ = project_vapid_keys(project_id, rotate=options["rotate"])
            self.stdout.write(f"{project_id}\t{name}\t{public}")
