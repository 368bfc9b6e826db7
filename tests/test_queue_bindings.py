"""A Redis restarted without persistence forgets queue bindings; the ticker declares them again."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kombu import Connection, Exchange, Queue

from journeys_site import celery as celery_module


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A private redis-server, so flushing it disturbs nobody."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait()


def publish_and_count(connection: Connection, name: str) -> int:
    """Publish one message to queue ``name`` the way Celery routes it; messages waiting there."""
    producer = connection.Producer()
    producer.publish({"x": 1}, exchange=Exchange(name, type="direct"), routing_key=name)
    return int(connection.default_channel.client.llen(name))


def test_a_lost_binding_is_declared_again_so_published_tasks_reach_their_queue(
    redis_url: str, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CELERY_TASK_ROUTES = {"engine.deliver_messages": {"queue": "delivery"}}
    with Connection(redis_url) as connection:
        Queue("delivery", Exchange("delivery", type="direct"), routing_key="delivery")(
            connection.default_channel
        ).declare()
        assert publish_and_count(connection, "delivery") == 1
        connection.default_channel.client.flushall()  # what a restart without persistence does
        assert publish_and_count(connection, "delivery") == 0  # set aside: undeliverable

        monkeypatch.setattr(
            celery_module.app, "connection_for_write", lambda: Connection(redis_url)
        )
        monkeypatch.setattr(celery_module, "_declared_at", 0.0)
        celery_module.ensure_queue_bindings()
        assert publish_and_count(connection, "delivery") == 1


def test_bindings_are_declared_at_most_every_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    class Counting:
        def __enter__(self) -> Any:
            calls.append(1)
            raise RuntimeError("stop here")

        def __exit__(self, *args: Any) -> None:
            return None

    monkeypatch.setattr(celery_module.app, "connection_for_write", Counting)
    monkeypatch.setattr(celery_module, "_declared_at", 0.0)
    with pytest.raises(RuntimeError):
        celery_module.ensure_queue_bindings(every=60)
    celery_module.ensure_queue_bindings(every=60)
    assert calls == [1]
