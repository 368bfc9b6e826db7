"""Sign-in and access: expiring API tokens, project invitations, login throttling glue."""
