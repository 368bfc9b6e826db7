"""Signals sent after an ingest transaction commits; the engine's event processing listens."""

from django.dispatch import Signal

# project_id: int, event_ids: list[int] -- events newly stored (duplicates excluded)
events_stored = Signal()
# project_id: int, profile_ids: list[int] -- profiles created or whose data changed
profiles_changed = Signal()
