"""Webhooks over TLS to a checked address: the certificate is verified against the URL's
host name (sent as SNI), and the connection is kept alive for the next send."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from engine import delivery
from engine.channels import webhook
from engine.models import Message
from tests.engine.delivery.conftest import MakeMessage

HOST = "hooks.example"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for HOST, signed by its own key (the test's only trusted root)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TLSServer:
    """HTTPS on 127.0.0.1 presenting HOST's certificate; notes the SNI names it is asked
    for, its connections and the Host header of each request."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.names: list[str | None] = []
        self.context.sni_callback = lambda sock, name, ctx: self.names.append(name)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.hosts: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with self.context.wrap_socket(conn, server_side=True) as tls:
                buffer = b""
                while True:
                    while b"\r\n\r\n" not in buffer:
                        chunk = tls.recv(65536)
                        if not chunk:
                            return
                        buffer += chunk
                    head, buffer = buffer.split(b"\r\n\r\n", 1)
                    lines = head.decode().split("\r\n")[1:]
                    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines)}
                    length = int(headers.get("content-length", 0))
                    while len(buffer) < length:
                        buffer += tls.recv(65536)
                    buffer = buffer[length:]
                    self.hosts.append(headers["host"])
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except (OSError, ssl.SSLError):
            return  # a client that refused our certificate


@pytest.fixture
def tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TLSServer]:
    cert, key = self_signed(tmp_path)
    server = TLSServer(cert, key)
    # The guard "resolves" HOST to our local server, and our certificate is the one root
    # the webhook client trusts.
    monkeypatch.setattr(webhook, "resolve_public", lambda host, port: ["127.0.0.1"])
    monkeypatch.setattr(webhook, "_tls", ssl.create_default_context(cafile=str(cert)))
    yield server
    server.listener.close()


def hook(url: str) -> dict[str, Any]:
    return {"url": url, "method": "POST", "headers": {}, "body": '{"user": "u-1"}'}


def test_tls_to_the_checked_address_names_and_verifies_the_host_and_is_kept_alive(
    make_message: MakeMessage, tls_server: TLSServer, settings: Any
) -> None:
    settings.JOURNEYS_DELIVERY_THREADS = 1
    url = f"https://{HOST}:{tls_server.port}/in"
    messages = [make_message("webhook", hook(url)) for _ in range(3)]

    delivery.deliver_messages([m.pk for m in messages])

    rows = Message.objects.filter(pk__in=[m.pk for m in messages])
    assert {(r.status, r.delivery["address"]) for r in rows} == {(Message.Status.SENT, "127.0.0.1")}
    assert tls_server.names == [HOST]  # one handshake, naming the URL's host
    assert tls_server.connections == 1
    assert tls_server.hosts == [f"{HOST}:{tls_server.port}"] * 3


def test_a_certificate_for_another_name_is_refused_and_retried(
    make_message: MakeMessage, tls_server: TLSServer
) -> None:
    message = make_message("webhook", hook(f"https://other.example:{tls_server.port}/in"))

    after = delivery.deliver_message(message.pk)

    assert after is not None
    assert after.status == Message.Status.QUEUED  # retried later, never sent unverified
    assert "ConnectError" in after.error
    assert "other.example" in after.error
    assert tls_server.hosts == []
