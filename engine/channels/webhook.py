"""Webhook backend: an HTTP request to the marketer's URL, with an idempotency key.

2xx is sent; 408, 429, 5xx and network errors are retried; any other status
(including 3xx: redirects are not followed) is a permanent failure. Destinations
pass the SSRF guard (engine/channels/ssrf.py) unless JOURNEYS_WEBHOOK_ALLOW_PRIVATE.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from typing import Any

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


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None  # an HTTP date: our own backoff is good enough


def _body(rendered: dict[str, Any]) -> str:
    body = rendered.get("body", "")
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    return json.dumps(body)  # tolerate a body left as JSON rather than a string


def _is_json(text: str) -> bool:
    if not text.strip():
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


_shared: httpx.Client | None = None
_shared_lock = threading.Lock()


def _client() -> httpx.Client:
    """The process's webhook client (thread-safe; a forked child makes its own)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = _new_client()
        return _shared


def _new_client() -> httpx.Client:
    return httpx.Client(
        timeout=TIMEOUT_SECONDS,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
    )


def _forget_client() -> None:
    global _shared
    _shared = None


os.register_at_fork(after_in_child=_forget_client)


def send(
    message_rendered: dict[str, Any],
    *,
    message_id: int,
    idempotency_key: str,
    config: ChannelConfig | None = None,
) -> Result:
    raw_url = str(message_rendered.get("url") or "")
    method = str(message_rendered.get("method") or "POST").upper()
    try:
        url = httpx.URL(raw_url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        return Result.failed(f"invalid webhook URL {raw_url!r}: {exc}")
    if url.scheme not in {"http", "https"} or not url.host:
        return Result.failed(f"invalid webhook URL {raw_url!r}: expected http(s)://host/...")
    if method not in METHODS:
        return Result.failed(f"unsupported webhook method {method!r}")

    body = _body(message_rendered)
    headers = {str(k): str(v) for k, v in (message_rendered.get("headers") or {}).items()}
    lower = {k.lower() for k in headers}
    if "content-type" not in lower and _is_json(body):
        headers["Content-Type"] = "application/json"
    if "user-agent" not in lower:
        headers["User-Agent"] = USER_AGENT
    # Ours, whatever the template said: receivers dedupe redeliveries by it.
    headers = {k: v for k, v in headers.items() if k.lower() != "idempotency-key"}
    headers["Idempotency-Key"] = idempotency_key

    facts: dict[str, Any] = {"method": method, "url": str(url)}
    target = url
    extensions: dict[str, Any] = {}
    if not settings.JOURNEYS_WEBHOOK_ALLOW_PRIVATE:
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            addresses = resolve_public(url.host, port)
        except BlockedDestination as exc:
            return Result.failed(str(exc), **facts)
        except (socket.gaierror, UnicodeError) as exc:
            return Result.retry(f"cannot resolve {url.host}: {exc}", **facts)
        # Connect to the address we checked, still naming the host for Host and TLS.
        target = url.copy_with(host=addresses[0])
        headers["Host"] = url.netloc.decode("ascii")
        if url.scheme == "https":
            extensions["sni_hostname"] = url.host
        facts["address"] = addresses[0]

    started = time.monotonic()
    try:
        # Pooled: connections and TLS setup are reused. A TLS connection pinned to a
        # checked address carries its host name (SNI), so it is not shared across names.
        pinned_tls = "sni_hostname" in extensions
        client = _new_client() if pinned_tls else _client()
        timeout = float(config.get("timeout") or TIMEOUT_SECONDS) if config else TIMEOUT_SECONDS
        request = client.build_request(
            method,
            target,
            headers=headers,
            content=body.encode("utf-8"),
            extensions=extensions,
            timeout=timeout,
        )
        response = client.send(request, stream=True)
        try:
            # Read a bounded excerpt only: a receiver cannot make us hold a huge body.
            excerpt = b""
            for chunk in response.iter_bytes():
                excerpt += chunk
                if len(excerpt) >= RESPONSE_EXCERPT:
                    break
        finally:
            response.close()
            if pinned_tls:
                client.close()
    except httpx.TransportError as exc:
        facts["elapsed_ms"] = round((time.monotonic() - started) * 1000)
        return Result.retry(f"{type(exc).__name__}: {exc or 'network error'}", **facts)
    except (httpx.HTTPError, ValueError) as exc:  # e.g. a header value with a newline
        return Result.failed(f"cannot send the webhook: {type(exc).__name__}: {exc}", **facts)

    status = response.status_code
    facts.update(
        status_code=status,
        elapsed_ms=round((time.monotonic() - started) * 1000),
        response=excerpt[:RESPONSE_EXCERPT].decode("utf-8", "replace"),
    )
    if 200 <= status < 300:
        return Result.sent(**facts)
    if status in RETRYABLE_STATUS or status >= 500:
        return Result.retry(
            f"HTTP {status} from {url.host}", retry_after=_retry_after(response), **facts
        )
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        return Result.failed(f"HTTP {status} redirect to {location!r} not followed", **facts)
    return Result.failed(f"HTTP {status} from {url.host}", **facts)


def default_backend() -> str:
    return "http"


BACKENDS = {"http": send, "record": record.sender("webhook")}
