"""Signals the builder sends after a journey's running state or published version changed."""

from django.dispatch import Signal

# Sent after the transaction commits, on every publish (first or new version), pause,
# resume and stop. kwargs: journey_id: int, project_id: int, status: str,
# version_id: int | None (the live version). The engine listens to rebuild its trigger
# index and schedule entries; a receiver must tolerate repeats (it is a nudge, not a log).
journey_changed = Signal()
