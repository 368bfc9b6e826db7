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


class EnrollmentHour(models.Model):
    """Entries (``kind="entry"``, by the hour of ``entered_at``) and exits by Goal Met /
    Time Out / Completed (``kind="exit"``, by exit block, reason and the hour of
    ``exited_at``) of a journey, kept like ``StepHour`` by row triggers on
    engine_enrollment that fire only when a stay starts, ends or is deleted (migration
    0002), never on a plain move from block to block."""

    journey_id = models.BigIntegerField()
    kind = models.CharField(max_length=5)
    node = models.CharField(max_length=64, blank=True, default="")
    reason = models.CharField(max_length=10, blank=True, default="")
    hour = models.DateTimeField()
    n = models.BigIntegerField()
    fresh = models.BooleanField(default=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["journey_id", "kind", "node", "reason", "hour"],
                condition=Q(fresh=False),
                name="enrollmenthour_settled_once",
            )
        ]
        indexes: ClassVar = [
            models.Index(fields=["journey_id", "hour"], name="enrollmenthour_journey_hour"),
            models.Index(
                fields=["journey_id"], name="enrollmenthour_fresh", condition=Q(fresh=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.journey_id}/{self.kind}/{self.node}/{self.reason} {self.hour:%Y-%m-%d %H}h"
