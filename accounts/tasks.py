"""Celery tasks of accounts: telling an invitee about their invitation by email."""

from __future__ import annotations

from celery import shared_task

from accounts import services


@shared_task(
    name="accounts.send_invitation_email",
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OSError,),
    max_retries=3,
    retry_backoff=True,
)
def send_invitation_email(invitation_id: int, link: str) -> None:
    services.invitation_notify(invitation_id=invitation_id, link=link)
