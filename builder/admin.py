"""Django admin for support staff: journeys, their versions, and who is in them."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from builder.models import Journey, JourneyVersion
from engine.models import Enrollment


class VersionInline(admin.TabularInline[JourneyVersion, Journey]):
    model = JourneyVersion
    fields = ("number", "created_at", "created_by", "in_flight")
    readonly_fields = ("number", "created_at", "created_by", "in_flight")
    extra = 0
    can_delete = False
    max_num = 0


@admin.register(Journey)
class JourneyAdmin(admin.ModelAdmin[Journey]):
    """Journeys are edited in the canvas and the API; here they are looked up."""

    list_display = ["id", "name", "project", "status", "live_version", "updated_at"]
    list_filter = ["status", "project"]
    search_fields = ["name"]
    readonly_fields = [
        "project", "status", "live_version", "start_at", "end_at", "revision", "created_by",
        "created_at", "updated_at", "published_at", "stopped_at", "definition_json",
    ]  # fmt: skip
    fields = ["name", *readonly_fields]
    inlines = [VersionInline]

    @admin.display(description="Definition (draft)")
    def definition_json(self, journey: Journey) -> Any:
        try:
            text = json.dumps(journey.definition, indent=2)
        except (RecursionError, ValueError):
            # Indented dumping recurses per level: a definition stored before depth was
            # bounded (a 500-deep layout) is shown on one line rather than failing the page.
            text = journey.definition_text or repr(journey.definition)[:100_000]
        return format_html("<pre>{}</pre>", text)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin[Enrollment]):
    """Who is in which journey, where and why they left; the step log is in the profile page."""

    list_display = [
        "id",
        "profile",
        "journey",
        "state",
        "node",
        "node_state",
        "entered_at",
        "exit_reason",
    ]
    list_filter = ["state", "node_state", "exit_reason", "journey"]
    search_fields = ["=profile__external_id", "=journey__id"]
    list_select_related = ["profile", "journey"]
    show_full_result_count = False
    readonly_fields = [f.name for f in Enrollment._meta.fields]
    actions = ["release_quarantined"]

    @admin.action(description="Release quarantined users (after the fault is fixed)")
    def release_quarantined(self, request: HttpRequest, queryset: Any) -> None:
        """Quarantined rows (engine/quarantine.py) go back to what they waited for."""
        from engine import quarantine

        released = quarantine.release(list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"{released} user(s) released; they move on at once.")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Enrollment | None = None) -> bool:
        return False
