"""Django app config of the engine."""

from django.apps import AppConfig


class EngineConfig(AppConfig):
    name = "engine"
    verbose_name = "Engine: projects, profiles, events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from engine import receivers, tasks  # noqa: F401  (connect signal receivers, register tasks)
