"""The web processes of ``manage.py serve`` share one listening socket; each accepts one
waiting connection per wake-up (journeys_site/daphne_main.py), so connections that arrive
together are spread over the processes instead of all landing in the first one awake."""

import subprocess
import sys
from pathlib import Path

from journeys_site import webserver

ROOT = Path(__file__).resolve().parent.parent

# In a process of its own: Twisted's reactor is global, and daphne installs its own.
ACCEPT_TWICE = """
import socket
import journeys_site.daphne_main  # noqa: F401 (the patch)
from twisted.internet import protocol, reactor

listening = socket.socket()
listening.bind(("127.0.0.1", 0))
listening.listen(16)
listening.setblocking(False)
clients = [socket.create_connection(listening.getsockname()) for _ in range(4)]
accepted = []


class Factory(protocol.Factory):
    def buildProtocol(self, addr):
        accepted.append(addr)
        return protocol.Protocol()


port = reactor.adoptStreamPort(listening.fileno(), socket.AF_INET, Factory())
port.doRead()
first = len(accepted)
port.doRead()
print(first, len(accepted))
"""


def test_a_web_process_takes_one_waiting_connection_per_wake_up() -> None:
    # Four connections wait on the socket; unpatched, Twisted takes all four at once.
    out = subprocess.run(
        [sys.executable, "-c", ACCEPT_TWICE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["1", "2"], out.stderr


def test_serve_starts_daphne_through_the_patched_entry_point() -> None:
    sock = webserver.listening_socket("127.0.0.1", 0)
    try:
        command = webserver.daphne_command(sock)
    finally:
        sock.close()
    assert command[1:3] == ["-m", "journeys_site.daphne_main"]
    # The entry point is daphne's own command line.
    out = subprocess.run(
        [sys.executable, "-m", "journeys_site.daphne_main", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--fd" in out.stdout
