"""Webhook backend: an HTTP request to the marketer's URL, with an idempotency key.

2xx is sent; 408, 429, 5xx and network errors are retried; any other status
(including 3xx: redirects are not followed) is a permanent failure. Destinations
pass the SSRF guard (engine/channels/ssrf.py) unless JOURNEYS_WEBHOOK_ALLOW_PRIVATE.

Requests go out on the standard library's ``http.client`` over keep-alive connections
kept in a small pool per destination (address, port and TLS host name), shared by the
sending threads: it costs a fifth of the CPU of an ``httpx.Client`` request, and CPU is
what bounds a worker's webhooks per second (docs/performance.md "Delivery").
"""

from __future__ import annotations

import functools
import http.client
import json
import os
import select
import socket
import ssl
import threading
import time
from typing import Any, NamedTuple

import httpx
from django.conf import settings

from engine.channel_settings import ChannelConfig
from engine.channels import Result, record
from engine.channels.ssrf import BlockedDestination, resolve_public

TIMEOUT_SECONDS = 10.0
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
RETRYABLE_STATUS = {408, 429}
USER_AGENT = "Journeys-Webhook/1"
RESPONSE_EXCERPT = 500
# A longer unread response body is not drained: its connection is closed instead.
DRAIN_LIMIT = 64 * 1024
DRAIN_SECONDS = 1.0  # nor is a rest that trickles in (a read that waits longer ends it)
KEEPALIVE_SECONDS = 5.0  # an idle connection older than this is closed, not reused
# A connection idle longer than this is checked for a close by the server before reuse
# (a shorter idle one is trusted; if it was closed after all, the request goes again once).
CHECK_IDLE_SECONDS = 0.5
MAX_IDLE_PER_DESTINATION = 32


def _body(rendered: dict[str, Any]) -> str:
    body = rendered.get("body", "")
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    return json.dumps(body)  # tolerate a body left as JSON rather than a string


def _is_json(text: str) -> bool:
    stripped = text.strip()
    if not stripped:
        return False
    try:
        json.loads(stripped)
    except ValueError:
        return False
    return True


# --- Connections ---------------------------------------------------------------------

# (scheme, address or host, port, TLS host name): one destination's connections.
Destination = tuple[str, str, int, str]


class _OneWrite:
    """Headers and a bytes body leave in one write (http.client writes them apart: two
    system calls, and two hand-offs of the GIL, per request)."""

    _buffer: list[bytes]

    def _send_output(self, message_body: Any = None, encode_chunked: bool = False) -> None:
        if isinstance(message_body, bytes) and message_body and not encode_chunked:
            self._buffer.extend((b"", message_body))
            request = b"\r\n".join(self._buffer)
            del self._buffer[:]
            self.send(request)  # type: ignore[attr-defined]
            return
        super()._send_output(message_body, encode_chunked)  # type: ignore[misc]


class _HTTP(_OneWrite, http.client.HTTPConnection):
    pass


class _PinnedHTTPS(_OneWrite, http.client.HTTPSConnection):
    """TLS to a checked address, naming (SNI) and verifying the URL's host."""

    def __init__(self, address: str, port: int, *, server_name: str, timeout: float) -> None:
        super().__init__(address, port, timeout=timeout, context=_tls_context())
        self.server_name = server_name

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(  # type: ignore[attr-defined]
            self.sock, server_hostname=self.server_name
        )


_tls: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    """Certificates checked against certifi's roots, as httpx does."""
    global _tls
    if _tls is None:
        try:
            import certifi

            _tls = ssl.create_default_context(cafile=certifi.where())
        except ImportError:  # pragma: no cover - certifi comes with httpx
            _tls = ssl.create_default_context()
    return _tls


_idle: dict[Destination, list[tuple[float, http.client.HTTPConnection]]] = {}
_idle_lock = threading.Lock()


def _forget_connections() -> None:
    """A forked child (a Celery worker process) opens its own connections."""
    global _idle, _idle_lock
    _idle, _idle_lock = {}, threading.Lock()


os.register_at_fork(after_in_child=_forget_connections)


def _open(where: Destination, timeout: float) -> http.client.HTTPConnection:
    scheme, address, port, server_name = where
    if scheme == "https":
        return _PinnedHTTPS(address, port, server_name=server_name, timeout=timeout)
    return _HTTP(address, port, timeout=timeout)


def _dead(connection: http.client.HTTPConnection) -> bool:
    """An idle connection with something to read has been closed by the server (or sent
    junk): it cannot carry another request."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _take(where: Destination, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
    """An idle connection to this destination (reused: True), else a new one."""
    now = time.monotonic()
    while True:
        with _idle_lock:
            idle = _idle.get(where)
            if not idle:
                break
            since, connection = idle.pop()
        idle_for = now - since
        if idle_for < CHECK_IDLE_SECONDS or (
            idle_for <= KEEPALIVE_SECONDS and not _dead(connection)
        ):
            return connection, True
        connection.close()
    return _open(where, timeout), False


def _give_back(where: Destination, connection: http.client.HTTPConnection) -> None:
    with _idle_lock:
        idle = _idle.setdefault(where, [])
        if len(idle) < MAX_IDLE_PER_DESTINATION:
            idle.append((time.monotonic(), connection))
            return
    connection.close()


def _drained(response: http.client.HTTPResponse, connection: http.client.HTTPConnection) -> bool:
    """Whether the connection can carry another request once this answer is read: a short
    rest past the excerpt is read now, if it comes quickly. Best effort: the answer we
    have stands whatever happens here (a failure only costs the connection)."""
    if connection.sock is None:
        return False  # the server said it closes it
    rest = response.length  # None: chunked or until close, never drained
    if not response.isclosed() and rest is not None and rest <= DRAIN_LIMIT:
        try:
            connection.sock.settimeout(DRAIN_SECONDS)
            response.read()
        except (OSError, http.client.HTTPException):
            return False
    return response.isclosed()


class _NetworkError(Exception):
    """A transport failure, named as httpx names them (ConnectError, ReadTimeout...)."""

    def __init__(self, name: str, exc: BaseException) -> None:
        super().__init__(f"{name}: {exc or type(exc).__name__}")


# A reused connection the server closed meanwhile fails like this before any answer:
# the request is sent again once, on a new connection.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def _exchange(
    where: Destination,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    timeout: float,
) -> tuple[int, dict[str, str], bytes]:
    """Send one request; (status, the headers we read, a bounded excerpt of the body).
    Raises _NetworkError for a transport failure, ValueError for a request that cannot be
    written (a header with a newline)."""
    for attempt in (1, 2):
        connection, reused = _take(where, timeout)
        try:
            if connection.sock is None:
                try:
                    connection.connect()
                except TimeoutError as exc:
                    raise _NetworkError("ConnectTimeout", exc) from exc
                except OSError as exc:
                    raise _NetworkError("ConnectError", exc) from exc
            connection.sock.settimeout(timeout)
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                excerpt = response.read(RESPONSE_EXCERPT)
            except _STALE as exc:
                if reused and attempt == 1:
                    connection.close()
                    continue
                raise _NetworkError("RemoteProtocolError", exc) from exc
            except TimeoutError as exc:
                raise _NetworkError("ReadTimeout", exc) from exc
            except http.client.HTTPException as exc:
                raise _NetworkError("RemoteProtocolError", exc) from exc
            except OSError as exc:
                raise _NetworkError("ReadError", exc) from exc
        except BaseException:
            connection.close()
            raise
        if _drained(response, connection):
            _give_back(where, connection)
        else:
            connection.close()
        wanted = ("Retry-After", "Location")
        return response.status, {h: response.getheader(h) or "" for h in wanted}, excerpt
    raise AssertionError("unreachable")  # pragma: no cover


# --- The send -------------------------------------------------------------------------


class _Url(NamedTuple):
    text: str
    scheme: str
    host: str  # as people read it (IDNA decoded)
    connect_host: str  # as DNS, sockets and TLS (SNI) take it: ASCII (IDNA encoded)
    port: int
    netloc: str  # the Host header
    target: str  # path and query


@functools.lru_cache(maxsize=1024)
def _url(raw_url: str) -> _Url | str:
    """The parts of a webhook URL, or why it is not one (cached: a journey's webhooks
    often share one URL, and parsing it costs more than sending to a local receiver)."""
    try:
        url = httpx.URL(raw_url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        return f"invalid webhook URL {raw_url!r}: {exc}"
    if url.scheme not in {"http", "https"} or not url.host:
        return f"invalid webhook URL {raw_url!r}: expected http(s)://host/..."
    return _Url(
        text=str(url),
        scheme=url.scheme,
        host=url.host,
        connect_host=url.raw_host.decode("ascii"),
        port=url.port or (443 if url.scheme == "https" else 80),
        netloc=url.netloc.decode("ascii"),
        target=url.raw_path.decode("ascii"),
    )


def send(
    message_rendered: dict[str, Any],
    *,
    message_id: int,
    idempotency_key: str,
    config: ChannelConfig | None = None,
) -> Result:
    raw_url = str(message_rendered.get("url") or "")
    method = str(message_rendered.get("method") or "POST").upper()
    url = _url(raw_url)
    if isinstance(url, str):
        return Result.failed(url)
    if method not in METHODS:
        return Result.failed(f"unsupported webhook method {method!r}")

    body = _body(message_rendered)
    headers = {str(k): str(v) for k, v in (message_rendered.get("headers") or {}).items()}
    lower = {k.lower() for k in headers}
    if "content-type" not in lower and _is_json(body):
        headers["Content-Type"] = "application/json"
    if "user-agent" not in lower:
        headers["User-Agent"] = USER_AGENT
    # Ours, whatever the template said: receivers dedupe redeliveries by it; and the
    # Host is the URL's, whatever address we connect to.
    headers = {k: v for k, v in headers.items() if k.lower() not in ("idempotency-key", "host")}
    headers["Host"] = url.netloc
    headers["Idempotency-Key"] = idempotency_key

    facts: dict[str, Any] = {"method": method, "url": url.text}
    port, address = url.port, url.connect_host
    if not settings.JOURNEYS_WEBHOOK_ALLOW_PRIVATE:
        try:
            addresses = resolve_public(url.host, port)
        except BlockedDestination as exc:
            return Result.failed(str(exc), **facts)
        except (socket.gaierror, UnicodeError) as exc:
            return Result.retry(f"cannot resolve {url.host}: {exc}", **facts)
        # Connect to the address we checked, still naming the host for Host and TLS.
        address = addresses[0]
        facts["address"] = address

    timeout = float(config.get("timeout") or TIMEOUT_SECONDS) if config else TIMEOUT_SECONDS
    content = body.encode("utf-8")
    started = time.monotonic()
    try:
        status, answer, excerpt = _exchange(
            (url.scheme, address, port, url.connect_host),
            method,
            url.target,
            content if content or method in ("POST", "PUT", "PATCH") else None,
            headers,
            timeout,
        )
    except _NetworkError as exc:
        facts["elapsed_ms"] = round((time.monotonic() - started) * 1000)
        return Result.retry(str(exc), **facts)
    except ValueError as exc:  # e.g. a header value with a newline
        return Result.failed(f"cannot send the webhook: {type(exc).__name__}: {exc}", **facts)

    facts.update(
        status_code=status,
        elapsed_ms=round((time.monotonic() - started) * 1000),
        response=excerpt[:RESPONSE_EXCERPT].decode("utf-8", "replace"),
    )
    if 200 <= status < 300:
        return Result.sent(**facts)
    if status in RETRYABLE_STATUS or status >= 500:
        return Result.retry(
            f"HTTP {status} from {url.host}", retry_after=_retry_after_of(answer), **facts
        )
    if 300 <= status < 400:
        return Result.failed(
            f"HTTP {status} redirect to {answer['Location']!r} not followed", **facts
        )
    return Result.failed(f"HTTP {status} from {url.host}", **facts)


def _retry_after_of(answer: dict[str, str]) -> float | None:
    raw = answer.get("Retry-After", "")
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None  # an HTTP date: our own backoff is good enough


def default_backend() -> str:
    return "http"


BACKENDS = {"http": send, "record": record.sender("webhook")}
