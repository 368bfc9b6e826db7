"""Stored data the engine runs on: projects and members, profiles, events, heartbeats."""

from __future__ import annotations

import secrets
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q


def new_ingest_key() -> str:
    return "pk_" + secrets.token_urlsafe(24)


def new_sdk_key() -> str:
    return "sdk_" + secrets.token_urlsafe(24)


def new_identity_secret() -> str:
    return "sk_" + secrets.token_urlsafe(32)


class Project(models.Model):
    """A workspace. Nothing of one project is visible from another."""

    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA time zone")
    ingest_key = models.CharField(
        max_length=64,
        unique=True,
        default=new_ingest_key,
        help_text="Server key: every ingest endpoint; never put it in a web page",
    )
    sdk_key = models.CharField(
        max_length=64,
        unique=True,
        default=new_sdk_key,
        help_text="Public key for web pages: events, identify, profile properties",
    )
    # When the server key was last presented by a browser (a request with an Origin
    # header): the settings page warns that it belongs on servers, not in pages.
    ingest_key_seen_in_browser_at = models.DateTimeField(null=True, blank=True)
    identity_secret = models.CharField(
        max_length=80,
        default=new_identity_secret,
        help_text="HMAC key for web SDK identity verification (user_hash)",
    )
    identity_verification = models.BooleanField(
        default=False, help_text="Require user_hash from the web SDK before in-app delivery"
    )
    # Web push (VAPID, RFC 8292): made on first use or by `manage.py vapid_keys`. The
    # public key is the browser's applicationServerKey; the private key signs requests.
    vapid_public_key = models.CharField(max_length=100, blank=True, default="")
    vapid_private_key = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    # The project-local date whose 12:00 am evaluations have run (past-behaviour
    # blocks and goals); the ticker runs them when the project's midnight has passed.
    daily_run_on = models.DateField(null=True, blank=True)

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
    # Made through the public SDK key and never named by the server key: the only kind
    # of profile that identify may merge into another when called with the SDK key.
    anonymous = models.BooleanField(default=False, db_default=False)
    # First named as the profile_id of an identify call: never merged into another.
    identified_at = models.DateTimeField(null=True, blank=True)
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

    # Indexed by event_project_name_ts and the client-id constraint (project leads both).
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    # Indexed by event_profile_name_ts (profile leads it).
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="events", db_index=False
    )
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
        # Each index serves named queries (docs/performance.md, "Events table indexes");
        # every one is paid for by every event written.
        indexes: ClassVar = [
            # "did event X (count/sum) in the last N days" for a batch of profiles:
            # WHERE profile_id IN (...) AND name = X AND ts >= since; page counts; also a
            # profile's events (admin: its last 50, sorted) and the profile cascade.
            models.Index(fields=["profile", "name", "ts"], name="event_profile_name_ts"),
            # Project-wide scans by event name over time (segment details, stats) and
            # whole-project segments (engine/segments.py): profile_id is covered, so a
            # count or did/did-not condition is an index-only scan (docs/performance.md).
            models.Index(
                fields=["project", "name", "ts"], name="event_project_name_ts", include=["profile"]
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.ts:%Y-%m-%d %H:%M:%S}"


class Heartbeat(models.Model):
    """Last sign of life of a background service (the worker), read by /healthz."""

    name = models.CharField(max_length=64, primary_key=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.seen_at}"


class Enrollment(models.Model):
    """One user's stay in one journey: where they are, what they wait for, how they left.

    A waiting user is this row with a ``wake_at`` (timer) and/or a ``deadline``
    (conversion time); the ticker finds due rows by index, never a sleeping task.
    ``revision`` goes up on every change so a stale or repeated task changes nothing.
    """

    class State(models.TextChoices):
        # Qualified but not yet in: Inaction entry waiting out its N, Date Time entry
        # waiting for property + offset. Not counted as in the journey.
        CANDIDATE = "candidate", "Candidate"
        ACTIVE = "active", "Active"
        EXITED = "exited", "Exited"
        CANCELLED = "cancelled", "Cancelled"

    class NodeState(models.TextChoices):
        PENDING = "pending", "Arrived, to be processed"
        WAITING = "waiting", "Waiting (timer or event)"
        DONE = "done", "At the end of its path, waiting for a goal or the time-out"
        # Its moves failed alone, repeatedly: set aside with the reason (engine/quarantine.py).
        QUARANTINED = "quarantine", "Set aside: its moves kept failing"

    class ExitReason(models.TextChoices):
        GOAL_MET = "goal_met", "Goal met"
        TIME_OUT = "time_out", "Time out"
        COMPLETED = "completed", "Completed"
        STOPPED = "stopped", "Journey stopped"
        REMOVED = "removed", "Removed when a new version was published"
        MERGED = "merged", "Profile merged into another"

    # project, journey and version carry no foreign-key constraints in the database: they
    # are the same for a whole batch of entries, and checking them row by row cost a
    # journey's mass start a sixth of its server time. ``entries.enroll`` holds the
    # journey's row (FOR KEY SHARE) while it writes, so neither the journey, nor its
    # versions, nor its project can be deleted under it; deletes go through Django, which
    # cascades (project, journey) and protects (version) as before (migration 0019).
    # Rarely looked up alone; no index to keep every move cheaper.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    # Indexed by enrollment_entered (journey leads it).
    journey = models.ForeignKey(
        "builder.Journey",
        on_delete=models.CASCADE,
        related_name="enrollments",
        db_index=False,
        db_constraint=False,
    )
    version = models.ForeignKey(
        "builder.JourneyVersion",
        on_delete=models.PROTECT,
        related_name="enrollments",
        db_constraint=False,
    )
    # Indexed by enrollment_profile_state (profile leads it). No database constraint
    # either (migration 0020): ``entries.enroll`` locks the batch's profiles FOR KEY SHARE
    # in one statement and lets in only those that exist (a check per row at commit cost
    # a fifth of a mass entry's server time); Django's delete of a profile cascades.
    profile = models.ForeignKey(
        Profile,
        on_delete=models.CASCADE,
        related_name="enrollments",
        db_index=False,
        db_constraint=False,
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    node = models.CharField(max_length=64, help_text="Block id the user is at")
    node_state = models.CharField(
        max_length=10, choices=NodeState.choices, default=NodeState.PENDING
    )
    visit = models.PositiveIntegerField(default=1, help_text="Block arrivals so far; keys messages")
    revision = models.PositiveIntegerField(default=0)
    entry_number = models.PositiveIntegerField(default=1, help_text="This profile's nth entry")
    wake_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(null=True, blank=True, help_text="Conversion time runs out")
    entered_at = models.DateTimeField(null=True, blank=True)
    node_entered_at = models.DateTimeField(null=True, blank=True)
    exited_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(
        max_length=10, choices=ExitReason.choices, blank=True, default=""
    )
    exit_node = models.CharField(max_length=64, blank=True, default="")
    # No index of its own: events are deleted only with their profile or project, whose
    # enrollments go too; the one-stay-per-trigger constraint serves lookups by journey.
    trigger_event = models.ForeignKey(
        Event, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    # Per-block scratch state (e.g. the Date Time target the timer was set from).
    context = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints: ClassVar = [
            # A user is never in the same journey twice at once.
            models.UniqueConstraint(
                fields=["journey", "profile"],
                condition=Q(state="active"),
                name="enrollment_one_active",
            ),
            models.UniqueConstraint(
                fields=["journey", "profile"],
                condition=Q(state="candidate"),
                name="enrollment_one_candidate",
            ),
            # One event starts at most one stay in a journey: a redelivered or replayed
            # event is a no-op (consumed candidates are "cancelled" and do not count).
            models.UniqueConstraint(
                fields=["journey", "trigger_event"],
                condition=Q(trigger_event__isnull=False) & ~Q(state="cancelled"),
                name="enrollment_one_per_trigger",
            ),
        ]
        indexes: ClassVar = [
            # Ticker: SELECT ... WHERE state IN (candidate, active) AND wake_at <= now ORDER BY wake_at.
            # Due timers in time order. The block is part of the key so a claim for one
            # block skips other blocks' due rows inside the index, without reading them.
            models.Index(
                fields=["wake_at", "version", "node"],
                name="enrollment_due_wake",
                condition=Q(state__in=["candidate", "active"], wake_at__isnull=False),
            ),
            # Ticker: SELECT ... WHERE state = active AND deadline <= now (conversion time-outs).
            models.Index(
                fields=["deadline"],
                name="enrollment_due_deadline",
                condition=Q(state="active", deadline__isnull=False),
            ),
            # Ticker: arrivals not yet processed (crash recovery): WHERE node_state = pending AND state = active.
            models.Index(
                fields=["journey", "node"],
                name="enrollment_pending",
                condition=Q(state="active", node_state="pending"),
            ),
            # Occupancy: SELECT node, count(*) WHERE journey = j AND state = active GROUP BY node.
            models.Index(
                fields=["journey", "node"], name="enrollment_occupancy", condition=Q(state="active")
            ),
            # Event matching and re-entry checks: WHERE profile_id IN (...) AND state IN (...).
            models.Index(fields=["profile", "state"], name="enrollment_profile_state"),
            # Stats: entries / exits of a journey in a time frame.
            models.Index(fields=["journey", "entered_at"], name="enrollment_entered"),
            models.Index(
                fields=["journey", "exited_at"],
                name="enrollment_exited",
                condition=Q(exited_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.profile_id} in {self.journey_id} at {self.node} ({self.state})"


class Step(models.Model):
    """The step log: one row per block a user passed, with the path taken and why."""

    class Outcome(models.TextChoices):
        NEXT = "next", "Moved on"
        YES = "yes", "Yes path"
        NO = "no", "No path"
        EXIT = "exit", "Exited here"
        END = "end", "End of path"
        MOVED = "moved", "Moved by a new version"
        # Left on a branch the block names itself (a Split's "A"); the name is in ``branch``.
        BRANCH = "branch", "Named branch"

    # No foreign-key constraints in the database: checking three keys on every step
    # written cost the engine a third of its moves per second. Steps are written in the
    # statement that moves their enrollment (its row locked), and go with it when it is
    # deleted: by Django's cascade, and on PostgreSQL by a trigger that also removes a
    # step written while a delete was under way (migration 0007). journey and profile
    # copy the enrollment's (kept equal when profiles merge), so stats can filter steps
    # without a join. Indexed by step_once_per_visit (enrollment leads it) and
    # step_journey_node (journey leads it); a profile's steps are found through its
    # enrollments.
    enrollment = models.ForeignKey(
        Enrollment,
        on_delete=models.CASCADE,
        related_name="steps",
        db_index=False,
        db_constraint=False,
    )
    journey = models.ForeignKey(
        "builder.Journey",
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    version_number = models.PositiveIntegerField()
    profile = models.ForeignKey(
        Profile, on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    node = models.CharField(max_length=64)
    visit = models.PositiveIntegerField()
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=6, choices=Outcome.choices, blank=True, default="")
    # The branch the user left on: "yes"/"no" out of a segment block, a named branch of a
    # kind that names its own (Split), "" for a block with one way out or an exit.
    branch = models.CharField(max_length=64, blank=True, default="")
    # What the condition saw ({"event": "Charged", "count": 2, ...}) or why the user left.
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints: ClassVar = [
            # Replaying the same move inserts nothing twice.
            models.UniqueConstraint(
                fields=["enrollment", "node", "visit"], name="step_once_per_visit"
            )
        ]
        indexes: ClassVar = [
            models.Index(fields=["journey", "node", "entered_at"], name="step_journey_node"),
        ]

    def __str__(self) -> str:
        return f"{self.enrollment_id}@{self.node}#{self.visit} {self.outcome}"


class Message(models.Model):
    """The outbox: one row per user visit of an engage block, written with the move itself."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        # Kept by a record-only backend (no provider configured): nothing left the system.
        RECORDED = "recorded", "Recorded"
        # Reported by the channel after "sent" (in-app: shown on a page, viewed, clicked).
        DELIVERED = "delivered", "Delivered"
        OPENED = "opened", "Opened"
        CLICKED = "clicked", "Clicked"

    # Rarely looked up alone; no index to keep every outbox write cheaper.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    # Indexed by message_journey_node (journey leads it).
    journey = models.ForeignKey(
        "builder.Journey", on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    # Indexed by message_once_per_visit (enrollment leads it).
    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="messages")
    node = models.CharField(max_length=64)
    visit = models.PositiveIntegerField()
    channel = models.CharField(max_length=16)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    rendered = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Channel-specific delivery facts (provider id, HTTP status, opened_at ...).
    delivery = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints: ClassVar = [
            # At most one message per user per visit of a block, whatever retries happen.
            models.UniqueConstraint(
                fields=["enrollment", "node", "visit"], name="message_once_per_visit"
            )
        ]
        indexes: ClassVar = [
            # Delivery: WHERE status = queued AND next_attempt_at <= now.
            models.Index(
                fields=["next_attempt_at"], name="message_due", condition=Q(status="queued")
            ),
            models.Index(fields=["journey", "node", "created_at"], name="message_journey_node"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.node} -> {self.profile_id} ({self.status})"


class EventInbox(models.Model):
    """The engine's inbox: events stored by one ingest request, not yet processed.

    Written in the ingest transaction; a task claims every committed row of a project
    (SKIP LOCKED), processes their events as one batch and deletes the rows in the same
    transaction. A lost task leaves the rows for the ticker's sweep, so no event is
    ever left unprocessed.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    event_ids = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        indexes: ClassVar = [
            # Claims: WHERE project_id = p ORDER BY id; sweep: ORDER BY created_at.
            models.Index(fields=["project", "id"], name="event_inbox_project"),
            models.Index(fields=["created_at"], name="event_inbox_age"),
        ]

    def __str__(self) -> str:
        return f"{len(self.event_ids)} event(s) of project {self.project_id}"


class ChannelSetting(models.Model):
    """A project's own provider for one channel (SMTP, Twilio, FCM ...), over the environment's.

    ``values`` holds what may be shown (host, port, From ...). Secrets (passwords, API keys,
    the FCM service account) are in ``secrets``: one Fernet token of their JSON, never
    rendered back; ``secret_hints`` says what may be shown of each ("…4f2a").
    engine/channel_settings.py reads and writes them.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="channel_settings")
    channel = models.CharField(max_length=16)
    values = models.JSONField(default=dict, blank=True)
    secrets = models.TextField(blank=True, default="")
    secret_hints = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["project", "channel"], name="channel_setting_once")
        ]

    def __str__(self) -> str:
        return f"{self.channel} settings of project {self.project_id}"


class Subscription(models.Model):
    """A profile's consent to one channel (engine/consent.py). No row: subscribed.

    Set through the profiles API, the unsubscribe link of an email, or staff; the engine
    skips a message on a channel the profile unsubscribed from, when it is about to send.
    """

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="subscriptions")
    channel = models.CharField(max_length=16)
    subscribed = models.BooleanField()
    changed_at = models.DateTimeField()
    # Who changed it: "api", "unsubscribe_link" (the page), "one_click" (RFC 8058), "staff".
    source = models.CharField(max_length=32)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["profile", "channel"], name="subscription_once")
        ]

    def __str__(self) -> str:
        state = "subscribed" if self.subscribed else "unsubscribed"
        return f"{self.profile_id} {state} to {self.channel}"


class ProjectLimits(models.Model):
    """A project's frequency caps and quiet hours (engine/limits.py). No row: no limits.

    ``frequency_caps`` is ``{channel: {"day": n, "week": n}}`` (either may be absent);
    quiet hours are a window of the profile's local time, ``quiet_start`` to ``quiet_end``
    (past midnight when the end is earlier), off when both are empty.
    """

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, primary_key=True, related_name="limits"
    )
    frequency_caps = models.JSONField(default=dict, blank=True)
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"limits of project {self.project_id}"


class FrequencyCount(models.Model):
    """How many messages of a channel a profile was sent in one local day or week: the
    counter a frequency cap is taken from, one conditional upsert per send."""

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="+", db_index=False)
    channel = models.CharField(max_length=16)
    period = models.CharField(max_length=4)  # "day" or "week"
    starts_on = models.DateField()  # the local day, or the Monday of the local week
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints: ClassVar = [
            # The upsert's conflict target; its leading profile column serves the cascade.
            models.UniqueConstraint(
                fields=["profile", "channel", "period", "starts_on"], name="frequency_count_key"
            )
        ]
        indexes: ClassVar = [
            # Pruning past periods: WHERE starts_on < d.
            models.Index(fields=["starts_on"], name="frequency_count_age"),
        ]

    def __str__(self) -> str:
        return f"{self.profile_id} {self.channel} {self.period} {self.starts_on}: {self.count}"
