"""Several daphne processes serving one listening socket (web + websockets).

Django runs sync views one at a time in each ASGI process, so a single process leaves
the CPU idle while a request waits on the database. The supervisor opens the socket
once and every daphne process accepts on it (``--fd``): the kernel spreads
connections over them, with no proxy in front.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ASGI_APP = "journeys_site.asgi:application"


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def daphne_command(
    sock: socket.socket, *, python: str = sys.executable, verbosity: int = 1
) -> list[str]:
    return [
        python,
        "-m",
        "journeys_site.daphne_main",
        "-v",
        str(verbosity),
        "--fd",
        str(sock.fileno()),
        ASGI_APP,
    ]


def start_daphne(
    sock: socket.socket,
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    verbosity: int = 1,
    stdout: int | None = None,
    stderr: int | None = None,
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        daphne_command(sock, verbosity=verbosity),
        env=dict(env),
        cwd=cwd,
        pass_fds=(sock.fileno(),),
        stdout=stdout,
        stderr=stderr,
    )
