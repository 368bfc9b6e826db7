"""Cross-process claims on the shared cache ("this unit of work is handed out"), atomic on every backend.

``cache.add`` is atomic on Redis, but Django's file-based cache (the embedded
default) implements it as "has the key? then set it": two processes can both see the
key missing and both win. Here, on a file-based cache, the check and the write happen
under an exclusive ``flock`` of a lock file per key, so exactly one process wins.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
from collections.abc import Iterator
from pathlib import Path

from django.core.cache import cache, caches
from django.core.cache.backends.filebased import FileBasedCache

__all__ = ["claim", "release"]


def _lock_dir() -> Path | None:
    """Where the lock files live (next to the cache's files), or None when the cache's
    own ``add`` is atomic."""
    backend = caches["default"]
    if not isinstance(backend, FileBasedCache):
        return None
    path = Path(backend._dir) / "claims"  # type: ignore[attr-defined]
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _exclusive(key: str) -> Iterator[None]:
    folder = _lock_dir()
    if folder is None:
        yield
        return
    name = hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()
    with open(folder / name, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def claim(key: str, timeout: int) -> bool:
    """Take ``key`` for ``timeout`` seconds; False if another process holds it."""
    with _exclusive(key):
        return bool(cache.add(key, 1, timeout=timeout))


def release(key: str) -> None:
    """Give ``key`` back before its time runs out."""
    with _exclusive(key):
        cache.delete(key)
