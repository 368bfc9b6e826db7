"""``manage.py serve``: run web + websockets (daphne), the Celery worker and its scheduler.

One process supervises the three: their output is prefixed with their name, SIGINT or
SIGTERM stops all of them (TERM, then KILL after a grace period). A process that dies is
started again (work it had taken is found again by the engine's ticker); one that dies
more than CRASH_LIMIT times within CRASH_WINDOW seconds stops everything, so a broken
setup fails loudly instead of looping forever.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import IO, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from journeys_site import webserver

GRACE_SECONDS = 10
CRASH_LIMIT = 5
CRASH_WINDOW = 60.0


class Command(BaseCommand):
    help = "Serve the web app, websockets, Celery worker and scheduler until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--concurrency",
            type=int,
            default=int(os.environ.get("JOURNEYS_WORKER_CONCURRENCY", "2")),
        )
        parser.add_argument(
            "--delivery-concurrency",
            type=int,
            default=int(os.environ.get("JOURNEYS_DELIVERY_CONCURRENCY", "2")),
            help="delivery worker processes (each with JOURNEYS_DELIVERY_THREADS send threads)",
        )
        parser.add_argument(
            "--web-processes",
            type=int,
            default=int(os.environ.get("JOURNEYS_WEB_PROCESSES", "2")),
            help="daphne processes sharing the listening socket",
        )
        parser.add_argument("--no-worker", action="store_true", help="do not start a Celery worker")
        parser.add_argument("--no-scheduler", action="store_true", help="do not start Celery beat")

    def handle(self, *args: Any, **options: Any) -> None:
        python = sys.executable
        # One listening socket, accepted on by every web process (journeys_site/webserver.py).
        sock = webserver.listening_socket(options["host"], options["port"])
        web = options["web_processes"]
        specs: list[tuple[str, list[str]]] = [
            (f"web{n + 1}" if web > 1 else "web", webserver.daphne_command(sock, python=python))
            for n in range(web)
        ]
        if not options["no_worker"]:
            # The engine's worker, and one for sends (their own queue: see CELERY_TASK_ROUTES).
            specs.append(("worker", _worker(python, "journeys", options["concurrency"], "celery")))
            specs.append(
                (
                    "delivery",
                    _worker(
                        python, "journeys-delivery", options["delivery_concurrency"], "delivery"
                    ),
                )
            )
        if not options["no_scheduler"]:
            specs.append(
                (
                    "scheduler",
                    [python, "-m", "celery", "-A", "journeys_site", "beat", "--loglevel", "INFO"],
                )
            )

        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        processes: dict[str, subprocess.Popen[str]] = {}
        stopping = threading.Event()

        def stop(signum: int | None = None, _frame: object = None) -> None:
            stopping.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)

        backend = (
            "PostgreSQL"
            if settings.DATABASE_IS_POSTGRES
            else f"SQLite ({settings.DATABASES['default']['NAME']})"
        )
        broker = (
            "Redis" if settings.REDIS_URL else f"embedded filesystem broker ({settings.BROKER_DIR})"
        )
        self.stdout.write(
            f"Journeys on http://{options['host']}:{options['port']}/  [{backend}, {broker}]"
        )
        self.stdout.flush()

        def start(name: str, command: list[str]) -> None:
            proc = subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
                pass_fds=(sock.fileno(),) if name.startswith("web") else (),
            )
            processes[name] = proc
            threading.Thread(target=_pump, args=(name, proc.stdout), daemon=True).start()

        commands = dict(specs)
        for name, command in specs:
            start(name, command)

        exit_code = 0
        crashes: dict[str, list[float]] = {name: [] for name in commands}
        while not stopping.is_set():
            for name, proc in list(processes.items()):
                if proc.poll() is None or stopping.is_set():
                    continue
                now = time.monotonic()
                recent = [t for t in crashes[name] if now - t < CRASH_WINDOW] + [now]
                crashes[name] = recent
                if len(recent) > CRASH_LIMIT:
                    sys.stdout.write(
                        f"{name:>9} | exited with code {proc.returncode} {len(recent)} times "
                        f"in {CRASH_WINDOW:.0f} s; stopping everything\n"
                    )
                    exit_code = 1
                    stopping.set()
                    break
                sys.stdout.write(f"{name:>9} | exited with code {proc.returncode}; restarting\n")
                sys.stdout.flush()
                start(name, commands[name])
            stopping.wait(0.5)

        _terminate(processes)
        if exit_code:
            raise SystemExit(exit_code)


def _worker(python: str, name: str, concurrency: int, queues: str) -> list[str]:
    return [
        python, "-m", "celery", "-A", "journeys_site", "worker", "--loglevel", "INFO",
        "--concurrency", str(concurrency), "--hostname", f"{name}-{os.getpid()}@%h",
        "--without-gossip", "--without-mingle", "--queues", queues,
    ]  # fmt: skip


def _pump(name: str, stream: IO[str] | None) -> None:
    if stream is None:
        return
    for line in stream:
        sys.stdout.write(f"{name:>9} | {line}")
        sys.stdout.flush()


def _terminate(processes: dict[str, subprocess.Popen[str]]) -> None:
    for proc in processes.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for proc in processes.values():
        remaining = max(0.0, deadline - time.monotonic())
        try:
            proc.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
