"""``manage.py run_due_work``: do everything due now, synchronously, then exit."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from engine import ticker
from engine.work import run_inline


class Command(BaseCommand):
    help = "Run everything due now (timers, time-outs, scheduled starts, midnight evaluations) and exit."

    def handle(self, *args: Any, **options: Any) -> None:
        done = 0
        # Claims hand out at most a batch at a time; go on until nothing is due.
        while True:
            work = ticker.collect(timezone.now())
            for kind, work_args in work:
                run_inline(kind, work_args)
            done += len(work)
            if not work:
                break
        from engine import delivery

        sent = delivery.deliver_due(timezone.now(), limit=100000)
        self.stdout.write(f"Ran {done} batch(es) of due work; {sent} message(s) attempted.")
