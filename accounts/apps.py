"""Django app config of accounts."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts: API tokens and invitations"
    default_auto_field = "django.db.models.BigAutoField"
