"""``manage.py serve`` supervises its processes: a dead worker comes back, TERM stops all.

Runs the real command on the embedded default (SQLite and the filesystem broker in a
temporary folder), as ``make run`` does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_VARIABLES = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "JOURNEYS_TEST_DB")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> dict[int, str]:
    """Process id -> command line of the direct children of ``pid``."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    found = {}
    for child in map(int, text.split()):
        try:
            found[child] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except FileNotFoundError:
            continue
    return found


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_serve_restarts_a_dead_worker_and_stops_everything_on_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    env["JOURNEYS_VAR_DIR"] = str(tmp_path / "var")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    serve = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--web-processes", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: a failed test leaves nothing behind
    )
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(serve.stdout or []), daemon=True).start()
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        _wait_for(healthy, 60, "/healthz")
        started = _children(serve.pid)
        assert len(started) == 4  # web, engine worker, delivery worker, scheduler
        worker = next(pid for pid, args in started.items() if "--queues celery" in args)

        os.kill(worker, signal.SIGKILL)
        _wait_for(
            lambda: any("exited with code -9; restarting" in line for line in output), 10, "restart"
        )
        _wait_for(lambda: len(_children(serve.pid)) == 4, 10, "four processes again")
        assert worker not in _children(serve.pid)
        assert healthy()  # the web process was never touched

        children = _children(serve.pid)
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(30) == 0
        for pid in children:
            _wait_for(lambda pid=pid: not Path(f"/proc/{pid}").exists(), 10, f"{pid} to end")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(serve.pid, signal.SIGKILL)
        serve.wait()
