"""Django admin for support staff: find a profile, see its data and events; projects, members."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from engine import delivery_admin  # noqa: F401  (registers MessageAdmin)
from engine.domain.words import why_words
from engine.models import (
    Enrollment,
    Event,
    Heartbeat,
    Membership,
    Profile,
    ProfileAlias,
    Project,
    Step,
)


class MembershipInline(admin.TabularInline[Membership, Project]):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin[Project]):
    list_display = ["id", "name", "timezone", "identity_verification", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["ingest_key", "created_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ["project", "user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["project__name", "user__username"]
    autocomplete_fields = ["user", "project"]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin[Profile]):
    list_display = ["external_id", "project", "email", "phone", "timezone", "updated_at"]
    list_filter = ["project"]
    # Support staff search by the external id, email or phone the customer gives them.
    search_fields = ["=external_id", "email", "phone"]
    readonly_fields = ["created_at", "updated_at", "aliases_list", "journeys", "recent_events"]
    list_select_related = ["project"]
    show_full_result_count = False

    @admin.display(description="Also known as")
    def aliases_list(self, profile: Profile) -> Any:
        return format_html_join(", ", "{}", ((a.alias,) for a in profile.aliases.all())) or "-"

    @admin.display(description="Journeys (newest 20 stays, with the last steps and why)")
    def journeys(self, profile: Profile) -> Any:
        stays = (
            Enrollment.objects.filter(profile=profile)
            .exclude(state=Enrollment.State.CANCELLED)
            .select_related("journey", "version")
            .order_by("-id")[:20]
        )
        steps: dict[int, list[Step]] = {}
        for step in Step.objects.filter(enrollment__in=[e.pk for e in stays]).order_by("-id")[:200]:
            steps.setdefault(step.enrollment_id, []).append(step)
        rows = format_html_join(
            "",
            "<tr><td>{} (v{})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    e.journey.name,
                    e.version.number,
                    e.state,
                    e.node if e.state != Enrollment.State.EXITED else "-",
                    e.entered_at.strftime("%Y-%m-%d %H:%M:%S") if e.entered_at else "-",
                    f"{e.exit_reason} at {e.exit_node}" if e.exit_reason else "-",
                    "; ".join(
                        f"{st.node}: {why_words(st.detail, st.outcome or None)}"[:300]
                        for st in reversed(steps.get(e.pk, [])[:5])
                    ),
                )
                for e in stays
            ),
        )
        return format_html(
            "<table><tr><th>Journey</th><th>State</th><th>At block</th><th>Entered</th>"
            "<th>Exit</th><th>Last steps (path and why)</th></tr>{}</table>"
            "<p>Full timeline: <code>GET /api/v1/profiles/{}/timeline?project={}</code></p>",
            rows,
            profile.external_id,
            profile.project_id,
        )

    @admin.display(description="Recent events (newest 50)")
    def recent_events(self, profile: Profile) -> Any:
        events = profile.events.order_by("-ts")[:50]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (e.ts.strftime("%Y-%m-%d %H:%M:%S"), e.name, json.dumps(e.properties))
                for e in events
            ),
        )
        link = reverse("admin:engine_event_changelist") + f"?profile__id__exact={profile.pk}"
        return format_html(
            "<table><tr><th>When (UTC)</th><th>Event</th><th>Properties</th></tr>{}</table>"
            '<p><a href="{}">All events of this profile</a></p>',
            rows,
            link,
        )


@admin.register(Event)
class EventAdmin(admin.ModelAdmin[Event]):
    """Events are history: visible, searchable, never edited or deleted by hand."""

    list_display = ["ts", "name", "profile", "project", "client_id"]
    list_filter = ["project"]
    search_fields = ["=profile__external_id", "name", "=client_id"]
    list_select_related = ["profile", "project"]
    show_full_result_count = False
    date_hierarchy = "ts"
    # Properties through properties_json: the admin's own JSON display keeps non-ASCII as
    # is, and a lone surrogate stored before ingest refused them made the page fail.
    fields = ("profile", "project", "name", "ts", "client_id", "received_at", "properties_json")
    readonly_fields = fields

    @admin.display(description="Properties")
    def properties_json(self, event: Event) -> Any:
        try:
            text = json.dumps(event.properties, indent=1)
        except (RecursionError, ValueError):
            text = json.dumps(event.properties)
        return format_html("<pre>{}</pre>", text)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False


@admin.register(ProfileAlias)
class ProfileAliasAdmin(admin.ModelAdmin[ProfileAlias]):
    list_display = ["alias", "profile", "project", "created_at"]
    search_fields = ["=alias", "=profile__external_id"]
    readonly_fields = ["project", "alias", "profile", "created_at"]


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin[Heartbeat]):
    list_display = ["name", "seen_at"]
