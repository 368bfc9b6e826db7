"""Journeys as marketers see them: the editable journey and its immutable published versions."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q


class Journey(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        LIVE = "live", "Live"
        PAUSED = "paused", "Paused"
        STOPPED = "stopped", "Stopped"

    project = models.ForeignKey("engine.Project", on_delete=models.CASCADE, related_name="journeys")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # The working copy the canvas and PUT edit. Published copies live in JourneyVersion.
    definition = models.JSONField(default=dict)
    # The same definition as the JSON text that was sent, so the API answers with exactly
    # what it was given (jsonb on PostgreSQL reorders keys). Ignored when it no longer
    # equals ``definition`` (someone wrote ``definition`` alone).
    definition_text = models.TextField(blank=True, default="")
    live_version = models.ForeignKey(
        "JourneyVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The version new entries use (the latest published one).",
    )
    # Copied from the live version's settings so the ticker can find due work by index.
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    # Past-behaviour entry: evaluated at start and then every 24 hours.
    next_entry_check_at = models.DateTimeField(null=True, blank=True)
    # Optimistic concurrency for edits: a PUT carrying an older revision is refused.
    revision = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Who last changed the name or the definition (the journey list shows it).
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    # The last status changes, oldest first, as [status, ISO time]: the engine judges an
    # event by the status the journey had when the event was accepted (set_status).
    status_log = models.JSONField(default=list, blank=True)

    STATUS_LOG_KEEP = 20

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["project", "status"], name="journey_project_status"),
            # Ticker: scheduled journeys whose start has come.
            models.Index(
                fields=["start_at"], name="journey_due_start", condition=Q(status="scheduled")
            ),
            # Ticker: running journeys whose end time has come.
            models.Index(
                fields=["end_at"],
                name="journey_due_end",
                condition=Q(status__in=["live", "paused"], end_at__isnull=False),
            ),
            # Ticker: past-behaviour entry evaluations due.
            models.Index(
                fields=["next_entry_check_at"],
                name="journey_due_entry_check",
                condition=Q(status="live", next_entry_check_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk}, {self.status})"

    def set_status(self, status: str, at: Any) -> None:
        """Change the status and note when (the caller saves)."""
        log = list(self.status_log or [])
        if not log and self.status != self.Status.DRAFT:
            # Published before statuses were logged: keep what it was, from its publish.
            log.append([self.status, (self.published_at or at).isoformat()])
        if self.status != status or not log:
            log.append([status, at.isoformat()])
        self.status = status
        self.status_log = log[-self.STATUS_LOG_KEEP :]


class JourneyVersion(models.Model):
    """A published definition. Never changed after it is written."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    # What was done with users in flight when this version replaced the previous one.
    in_flight = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["journey", "number"], name="journey_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.journey_id} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.pop("_allow_update", False):
            raise ValueError("A published journey version is immutable.")
        super().save(*args, **kwargs)
