"""Rollups of the step log: steps counted by journey, block, branch and hour (PostgreSQL)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q


class StepHour(models.Model):
    """How many steps entered ``node`` in the hour starting at ``hour`` and left by
    ``branch``. Written only by database triggers on engine_step (migration 0001): each
    statement that inserts or deletes steps adds one ``fresh`` row per (block, branch,
    hour) it touched, with +n or -n; ``stats.selectors`` folds fresh rows into one settled
    row per key (``fresh = false``) before reading. The sum over a key's rows is always
    the exact count, folded or not."""

    journey_id = models.BigIntegerField()
    node = models.CharField(max_length=64)
    branch = models.CharField(max_length=64, blank=True, default="")
    hour = models.DateTimeField()
    n = models.BigIntegerField()
    fresh = models.BooleanField(default=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["journey_id", "node", "branch", "hour"],
                condition=Q(fresh=False),
                name="stephour_settled_once",
            )
        ]
        indexes: ClassVar = [
            models.Index(fields=["journey_id", "hour"], name="stephour_journey_hour"),
            models.Index(fields=["journey_id"], name="stephour_fresh", condition=Q(fresh=True)),
        ]

    def __str__(self) -> str:
        return f"{self.journey_id}/{self.node}/{self.branch} {self.hour:%Y-%m-%d %H}h: {self.n}"
