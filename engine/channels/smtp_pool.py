"""Pooled SMTP connections: one login per server for many emails, shared by sending threads.

Opening an SMTP connection (TCP, EHLO, STARTTLS, AUTH) costs more than sending a mail on
it. Idle connections wait here per server (host, port, user, password, security) for the
next email of any thread. A connection is dropped after MAX_SENDS emails, after it sat
idle IDLE_SECONDS (servers close idle ones), and on any error. A pooled connection the
server had closed in the meantime is noticed on the next send, which goes once more on a
fresh connection (the server never took that email).
"""

from __future__ import annotations

import os
import smtplib
import threading
import time
from typing import Any

from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend

MAX_SENDS = 100  # emails per connection, below the limits servers commonly set
IDLE_SECONDS = 30.0
MAX_IDLE = 16  # idle connections kept per server

Key = tuple[Any, ...]
_idle: dict[Key, list[tuple[EmailBackend, float, int]]] = {}
_lock = threading.Lock()


def _key(server: dict[str, Any]) -> Key:
    return tuple(sorted((k, str(v)) for k, v in server.items()))


def _take(server: dict[str, Any], timeout: float) -> tuple[EmailBackend, int]:
    """An open connection to this server (an idle one, else a new one) and its sends so far."""
    key, now, stale = _key(server), time.monotonic(), []
    found: tuple[EmailBackend, int] | None = None
    with _lock:
        pool = _idle.get(key, [])
        while pool and found is None:
            connection, idle_since, sends = pool.pop()
            if now - idle_since < IDLE_SECONDS:
                found = (connection, sends)
            else:
                stale.append(connection)
    for connection in stale:
        connection.close()
    if found is not None:
        return found
    connection = get_connection(
        "django.core.mail.backends.smtp.EmailBackend",
        **server,
        timeout=timeout,
        fail_silently=False,
    )
    connection.open()  # opened here, so send_messages leaves it open
    return connection, 0


def _give_back(server: dict[str, Any], connection: EmailBackend, sends: int) -> None:
    if sends >= MAX_SENDS:
        connection.close()
        return
    with _lock:
        pool = _idle.setdefault(_key(server), [])
        if len(pool) < MAX_IDLE:
            pool.append((connection, time.monotonic(), sends))
            return
    connection.close()


def send(server: dict[str, Any], email: EmailMessage, *, timeout: float) -> None:
    """Send one email through a pooled connection; raises what smtplib raises."""
    for attempt in (1, 2):
        connection, sends = _take(server, timeout)
        try:
            connection.send_messages([email])
        except smtplib.SMTPServerDisconnected:
            connection.close()
            if sends and attempt == 1:  # a pooled one the server had closed: once more, fresh
                continue
            raise
        except BaseException:
            connection.close()
            raise
        _give_back(server, connection, sends + 1)
        return


def close_all() -> None:
    """Close every idle connection (tests, and a process that stops)."""
    with _lock:
        idle = [c for pool in _idle.values() for c, _, _ in pool]
        _idle.clear()
    for connection in idle:
        connection.close()


def _forget() -> None:
    _idle.clear()  # a forked child must not share its parent's sockets


os.register_at_fork(after_in_child=_forget)
