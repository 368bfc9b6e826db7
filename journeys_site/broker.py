"""The embedded Celery broker: kombu's filesystem transport, made safe across processes.

Kombu's own filesystem channel creates a message file and only then writes into it, and
a consumer in another process polls the folder and may take the file in between: it
reads an empty or half-written body and the worker dies on a JSON error. Its exchange
table is rewritten in place (``open("wb")`` truncates before the lock is taken), with
the same race for readers. This channel:

- writes each message to ``<folder>/.incoming/`` and renames it into the folder, so a
  message file is whole from the moment it can be seen;
- claims a message by renaming it into ``<folder>/.claimed/`` (one rename wins, on the
  same file system, where kombu's ``shutil.move`` to the system temp folder may copy),
  then reads and deletes it;
- drops, with an error in the log, a body that still cannot be decoded (written by
  something else), instead of crashing the consumer;
- rewrites exchange tables to a temporary file and renames it, under a lock file so
  two processes binding at once do not lose each other's queue.

Work a crashed process had claimed is not redelivered from here (as with kombu's
channel, a message leaves the folder when fetched); the engine's ticker finds such work
again from the database (see engine/ticker.py).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import uuid
from functools import cached_property
from pathlib import Path
from time import monotonic
from typing import Any

from kombu.transport import filesystem
from kombu.transport.filesystem import exchange_queue_t
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

INCOMING = ".incoming"
CLAIMED = ".claimed"


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.parent / INCOMING / f"{uuid.uuid4()}.tmp"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{round(monotonic() * 1000):015d}_{uuid.uuid4()}.{queue}.msg"  # FIFO by name
        try:
            _write_atomically(Path(self.data_folder_out) / name, dumps(payload).encode())
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add {name!r} to {self.data_folder_out}") from exc

    @cached_property
    def _claimed(self) -> Path:
        folder = Path(self.data_folder_in) / CLAIMED
        folder.mkdir(exist_ok=True)
        return folder

    def _get(self, queue: str) -> Any:
        suffix = f".{queue}.msg"
        folder = Path(self.data_folder_in)
        claimed = self._claimed
        for name in sorted(n for n in os.listdir(folder) if n.endswith(suffix)):
            target = claimed / f"{os.getpid()}-{name}"
            try:
                os.rename(folder / name, target)
            except FileNotFoundError:
                continue  # another consumer took it
            try:
                body = target.read_bytes()
            finally:
                target.unlink(missing_ok=True)
            try:
                return loads(body.decode())
            except (UnicodeDecodeError, json.JSONDecodeError):
                logger.error("Dropped an unreadable broker message %s (%d bytes)", name, len(body))
        raise filesystem.Empty()

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        control = Path(self.control_folder)
        control.mkdir(parents=True, exist_ok=True)
        entry = exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with open(control / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                queues = [exchange_queue_t(*q) for q in self._read_table(exchange)]
                if entry not in queues:
                    queues.insert(0, entry)
                    _write_atomically(control / f"{exchange}.exchange", dumps(queues).encode())
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def get_table(self, exchange: str) -> list[Any]:
        return [exchange_queue_t(*q) for q in self._read_table(exchange)]

    def _read_table(self, exchange: str) -> list[Any]:
        try:
            text = (Path(self.control_folder) / f"{exchange}.exchange").read_text()
        except FileNotFoundError:
            return []
        try:
            table = loads(text)
        except json.JSONDecodeError:
            logger.error("Exchange table %s is unreadable; rebuilding it", exchange)
            return []
        return list(table)


class Transport(filesystem.Transport):
    Channel = Channel
