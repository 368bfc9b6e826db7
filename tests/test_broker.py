"""The embedded broker (journeys_site/broker.py) between real processes."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

from journeys_site.broker import Transport

BODY = "x" * 4_000_000  # large enough that writing a message takes milliseconds
COUNT = 40


def _connection(folder: Path, transport: Any = Transport) -> Connection:
    return Connection(
        transport=transport,
        transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.01,
        },
    )


def _produce(folder: str, count: int) -> None:
    with _connection(Path(folder)) as conn:
        queue = conn.SimpleQueue("work")
        for n in range(count):
            queue.put({"n": n, "body": BODY})
        queue.close()


def _consume(folder: str, found: Any) -> None:
    with _connection(Path(folder)) as conn:
        queue = conn.SimpleQueue("work")
        try:
            while True:
                message = queue.get(timeout=5)
                payload = message.payload
                message.ack()
                found.put((payload["n"], payload["body"] == BODY))
        except queue.Empty:
            pass
        finally:
            queue.close()


def test_consumers_in_other_processes_never_see_a_half_written_message(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    found = ctx.Queue()
    # Two consumers poll while the producer writes: each message is read whole, once.
    consumers = [ctx.Process(target=_consume, args=(str(tmp_path), found)) for _ in range(2)]
    for c in consumers:
        c.start()
    _produce(str(tmp_path), COUNT)
    for c in consumers:
        c.join(60)
        assert c.exitcode == 0
    seen = [found.get(timeout=5) for _ in range(COUNT)]
    assert sorted(n for n, _ in seen) == list(range(COUNT))
    assert all(whole for _, whole in seen)
    assert found.empty()
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in {".msg", ".tmp"}]
    assert leftovers == []


def test_an_unreadable_message_file_is_dropped_and_the_next_one_is_delivered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # (A queue name of its own: kombu keeps bindings per process, not per folder.)
    (tmp_path / "0000000000000_bad.other.msg").write_text("")
    with _connection(tmp_path) as conn:
        queue = conn.SimpleQueue("other")
        queue.put({"n": 1})
        message = queue.get(timeout=2)
        assert message.payload == {"n": 1}
        message.ack()
        queue.close()
    assert "unreadable broker message 0000000000000_bad.other.msg" in caplog.text
    assert not (tmp_path / "0000000000000_bad.other.msg").exists()


def test_binding_queues_from_two_processes_keeps_both(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_bind, args=(str(tmp_path), f"q{n}")) for n in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    table = json.loads((tmp_path / "control" / "fan.exchange").read_text())
    assert sorted(q for _, _, q in table) == [f"q{n}" for n in range(6)]
    assert os.listdir(tmp_path / "control" / ".incoming") == []


def _bind(folder: str, name: str) -> None:
    from kombu import Exchange, Queue

    with _connection(Path(folder)) as conn:
        channel = conn.channel()
        for _ in range(20):
            Queue(name, Exchange("fan", type="fanout"))(channel).declare()
        channel.close()
