"""Django app config of the builder."""

from django.apps import AppConfig


class BuilderConfig(AppConfig):
    name = "builder"
    verbose_name = "Builder: journeys and versions"
    default_auto_field = "django.db.models.BigAutoField"
