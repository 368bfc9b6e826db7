"""Django admin of the message outbox for support staff: find a user's messages, resend, cancel.

Importing this module registers ``MessageAdmin`` (engine/admin.py imports it).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from engine.delivery import message_cancel, message_resend
from engine.models import Message

FIELDS: tuple[str, ...] = (
    "project",
    "journey",
    "enrollment",
    "profile",
    "node",
    "visit",
    "channel",
    "status",
    "attempts",
    "created_at",
    "sent_at",
    "next_attempt_at",
    "error",
    "rendered_pretty",
    "delivery_pretty",
)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin[Message]):
    """The outbox is history: read-only except for resend and cancel."""

    list_display = [
        "id",
        "created_at",
        "channel",
        "status",
        "journey",
        "node",
        "profile",
        "attempts",
        "sent_at",
        "next_attempt_at",
        "short_error",
    ]
    list_filter = ["status", "channel", "journey"]
    # Support staff search by the external id the customer gives them.
    search_fields = ["=profile__external_id"]
    list_select_related = ["journey", "profile"]
    show_full_result_count = False
    date_hierarchy = "created_at"
    actions = ["resend", "cancel"]
    fields = FIELDS
    readonly_fields = FIELDS

    @admin.display(description="Error")
    def short_error(self, message: Message) -> str:
        return message.error[:80]

    @admin.display(description="Rendered")
    def rendered_pretty(self, message: Message) -> Any:
        return format_html("<pre>{}</pre>", json.dumps(message.rendered, indent=2))

    @admin.display(description="Delivery")
    def delivery_pretty(self, message: Message) -> Any:
        return format_html("<pre>{}</pre>", json.dumps(message.delivery, indent=2))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Message | None = None) -> bool:
        return False

    @admin.action(
        description="Resend the selected failed or skipped messages", permissions=["change"]
    )
    def resend(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        actor = str(getattr(request.user, "username", ""))
        done = sum(message_resend(m, actor=actor) for m in queryset)
        skipped = queryset.count() - done
        self.message_user(request, f"{done} message(s) queued again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} not failed or skipped, left alone.", messages.WARNING
            )

    @admin.action(description="Cancel the selected queued messages", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        actor = str(getattr(request.user, "username", ""))
        done = sum(message_cancel(m, actor=actor) for m in queryset)
        skipped = queryset.count() - done
        self.message_user(request, f"{done} message(s) cancelled.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} not queued, left alone.", messages.WARNING)
