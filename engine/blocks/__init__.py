"""The engine's behaviour of each block kind, found by the kind's type string.

Each module here defines ``HANDLERS`` (type -> Handler) for its kind or family; the
package finds them itself, so a kind with engine behaviour is one module here plus its
pure module in engine/domain/kinds/ and its line in engine/domain/registry.py. A kind
whose decision is pure (``BlockType.decide``, e.g. Split) needs no module here.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading

from engine.domain import block_type

from .base import Decide, Handler, UniformWake

__all__ = ["Decide", "Handler", "UniformWake", "handler"]

_found: dict[str, Handler] | None = None
_lock = threading.Lock()
_PLAIN = Handler()


def _discover() -> dict[str, Handler]:
    found: dict[str, Handler] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.update(getattr(module, "HANDLERS", {}))
    return found


def handler(type_: str) -> Handler:
    """The engine behaviour of block kind ``type_``."""
    global _found
    if _found is None:
        with _lock:
            if _found is None:
                _found = _discover()
    found = _found.get(type_)
    if found is not None:
        return found
    kind = block_type(type_)
    if kind is not None and kind.decide is not None:
        return _found.setdefault(type_, Decide(kind.decide))
    return _PLAIN
