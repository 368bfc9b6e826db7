"""Stored data the engine runs on: projects and members, profiles, events, heartbeats."""

from __future__ import annotations

import secrets
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q


def new_ingest_key() -> str:
    return "pk_" + secrets.token_urlsafe(24)


def new_identity_secret() -> str:
    return "sk_" + secrets.token_urlsafe(32)


class Project(models.Model):
    """A workspace. Nothing of one project is visible from another."""

    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA time zone")
    ingest_key = models.CharField(max_length=64, unique=True, default=new_ingest_key)
    identity_secret = models.CharField(
        max_length=80,
        default=new_identity_secret,
        help_text="HMAC key for web SDK identity verification (user_hash)",
    )
    identity_verification = models.BooleanField(
        default=False, help_text="Require user_hash from the web SDK before in-app delivery"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        EDITOR = "editor", "Editor"
        VIEWER = "viewer", "Viewer"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.project}"

    @property
    def can_edit(self) -> bool:
        return self.role in {self.Role.ADMIN, self.Role.EDITOR}


class Profile(models.Model):
    """A user of the customer's app, known to the project by its external id."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="profiles")
    external_id = models.CharField(max_length=255)
    email = models.CharField(max_length=254, blank=True, default="")
    phone = models.CharField(max_length=32, blank=True, default="")
    timezone = models.CharField(max_length=64, blank=True, default="")
    properties = models.JSONField(default=dict, blank=True)
    push_tokens = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["project", "external_id"], name="profile_external_id")
        ]
        indexes: ClassVar = [
            # Support staff look profiles up by email or phone in the admin.
            models.Index(fields=["project", "email"], name="profile_email"),
            models.Index(fields=["project", "phone"], name="profile_phone"),
        ]

    def __str__(self) -> str:
        return self.external_id


class ProfileAlias(models.Model):
    """An external id that now means another profile (an anonymous web visitor who identified).

    Ingest resolves aliases first, so late events sent under the old id land on the
    identified profile instead of re-creating the anonymous one.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(max_length=255)
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="aliases")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["project", "alias"], name="profile_alias_unique")
        ]

    def __str__(self) -> str:
        return f"{self.alias} -> {self.profile_id}"


class Event(models.Model):
    """Something a profile did. Immutable once stored."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="events")
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=255)
    ts = models.DateTimeField(help_text="When it happened (client time)")
    properties = models.JSONField(default=dict, blank=True)
    # NULL (not "") when the client sent no id: the unique constraint skips NULLs.
    client_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            # Dedupe is the database's job: INSERT ... ON CONFLICT DO NOTHING against this
            # constraint, so two concurrent requests with the same id store it once.
            models.UniqueConstraint(
                fields=["project", "client_id"],
                condition=Q(client_id__isnull=False),
                name="event_client_id_unique",
            )
        ]
        indexes: ClassVar = [
            # "did event X (count/sum) in the last N days" for a batch of profiles:
            # WHERE profile_id IN (...) AND name = X AND ts >= since.
            models.Index(fields=["profile", "name", "ts"], name="event_profile_name_ts"),
            # A profile's events, newest first (timeline, admin, page counts).
            models.Index(fields=["profile", "ts"], name="event_profile_ts"),
            # Project-wide scans by event name over time (segment details, stats).
            models.Index(fields=["project", "name", "ts"], name="event_project_name_ts"),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.ts:%Y-%m-%d %H:%M:%S}"


class Heartbeat(models.Model):
    """Last sign of life of a background service (the worker), read by /healthz."""

    name = models.CharField(max_length=64, primary_key=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.seen_at}"
