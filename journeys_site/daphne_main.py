"""daphne's command line, with each web process accepting one connection at a time.

The web processes share one listening socket (journeys_site/webserver.py). Twisted
accepts every connection waiting on it when the socket wakes it (up to 100, more next
time), so connections that arrive together (a client opening its keep-alive pool) could
all land in one process: it then served them one request at a time while the other
process, and its core, stayed idle. Accepting one per wake-up lets every process woken
by the same arrivals take its share.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import tcp

_read = tcp.Port.doRead


def _read_one(self: Any) -> Any:
    self.numberAccepts = 1
    return _read(self)


tcp.Port.doRead = _read_one  # type: ignore[method-assign]

if __name__ == "__main__":
    from daphne.cli import CommandLineInterface

    CommandLineInterface.entrypoint()
