"""Helpers shared by the benchmarks: scratch databases and free ports on 127.0.0.1."""

from __future__ import annotations

import socket
from urllib.parse import urlparse, urlunparse


def conninfo(url: str) -> str:
    # psycopg takes postgresql:// URLs; Django's users often write postgres://.
    return url.replace("postgres://", "postgresql://", 1)


def with_db(url: str, name: str) -> str:
    """The same server URL, naming another database."""
    return urlunparse(urlparse(url)._replace(path=f"/{name}"))


def recreate_database(admin_url: str, name: str, *, drop_only: bool = False) -> None:
    """Drop ``name`` (ending its connections) and, unless ``drop_only``, create it empty."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(conninfo(admin_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        if not drop_only:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_row(figure: str, value: str, baseline: str = "", ratio: str = "", goal: str = "") -> None:
    """One row of ``make bench``'s table: bench/run.py collects the lines starting with
    ``BENCH`` (figure, value, baseline from the same run, ratio, goal)."""
    print("\t".join(["BENCH", figure, value, baseline, ratio, goal]), flush=True)
