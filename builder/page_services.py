"""Writes behind the marketer's pages: a new journey's starting definition, project settings, key rotation."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from engine.models import Project

NAME_MAX = 200
KEY_LABELS = {"ingest": "server key (ingest_key)", "sdk": "public web key (sdk_key)"}


class SettingsInvalid(ValueError):
    """Settings that cannot be saved, by form field, each with what to do instead."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def new_definition(*, event: str) -> dict[str, Any]:
    """A valid starting draft: users enter when they do ``event``; the builder adds the rest."""
    return {
        "settings": {"conversion_time": None, "allow_reentry": False},
        "entry": {"id": "entry", "type": "action", "event": event, "label": f"Did {event}"},
        "nodes": [],
        "edges": [],
        "goals": [],
        "layout": {"entry": {"x": 0, "y": 0}},
    }


@transaction.atomic
def project_update(
    *, project: Project, name: str, timezone_name: str, identity_verification: bool
) -> Project:
    """Rename the project, set its time zone (an IANA name) and identity verification."""
    from engine.ingest import is_timezone

    errors: dict[str, str] = {}
    name = name.strip()
    if not name:
        errors["name"] = "Give the project a name."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Keep the name under {NAME_MAX} characters."
    if not is_timezone(timezone_name):
        errors["timezone"] = "Pick a time zone from the list (like Europe/Paris)."
    if errors:
        raise SettingsInvalid(errors)
    project.name = name
    project.timezone = timezone_name
    project.identity_verification = identity_verification
    project.save(update_fields=["name", "timezone", "identity_verification"])
    return project


def rotate_key(*, project: Project, kind: str) -> str:
    """Give the project a new key of ``kind`` ("ingest" or "sdk"); returns its label."""
    from engine import services as engine_services

    if kind not in KEY_LABELS:
        raise SettingsInvalid({"kind": "Rotate either the server key or the public web key."})
    engine_services.project_rotate_key(project=project, kind=kind)
    return KEY_LABELS[kind]
