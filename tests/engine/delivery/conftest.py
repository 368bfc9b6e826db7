"""Fixtures for delivery tests: outbox rows built with the ORM, and real local servers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone

from builder.models import Journey, JourneyVersion
from engine.channels import record
from engine.models import Enrollment, Message, Project
from tests.factories import ProfileFactory, ProjectFactory


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict[str, Any] = b"ok"
    headers: dict[str, str] = field(default_factory=dict)


class LocalServer:
    """A real HTTP server on 127.0.0.1 answering with queued replies (default 200 "ok")."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.replies: list[Reply] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append(
                    Received(self.command, self.path, dict(self.headers.items()), body)
                )
                reply = server.replies.pop(0) if server.replies else Reply()
                payload = reply.body
                if isinstance(payload, dict):
                    payload = json.dumps(payload)
                if isinstance(payload, str):
                    payload = payload.encode()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def reply(self, *replies: Reply) -> None:
        self.replies.extend(replies)


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    server = LocalServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture(autouse=True)
def _delivery_settings(settings: Any, tmp_path: Any) -> Iterator[None]:
    """Every test starts with the defaults: no providers configured, records in tmp_path."""
    settings.JOURNEYS_RECORD_DIR = str(tmp_path / "outbox")
    settings.EMAIL_URL = settings.JOURNEYS_EMAIL_ESP = ""
    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = settings.TWILIO_FROM = ""
    settings.FCM_SERVER_KEY = settings.FCM_PROJECT_ID = settings.FCM_SERVICE_ACCOUNT = ""
    for channel in ("PUSH", "WEB_PUSH", "EMAIL", "SMS", "IN_APP", "WEBHOOK"):
        setattr(settings, f"JOURNEYS_{channel}_BACKEND", "")
    settings.JOURNEYS_WEBHOOK_ALLOW_PRIVATE = False
    record.outbox.clear()
    yield
    record.outbox.clear()


MakeMessage = Callable[..., Message]


@pytest.fixture
def make_message(db: Any) -> MakeMessage:
    """A queued outbox row, due now, as the engine writes it."""
    counter = {"n": 0}
    project: Project = ProjectFactory(name="Shop")
    journey = Journey.objects.create(project=project, name="Welcome", status="live")
    version = JourneyVersion.objects.create(journey=journey, number=1, definition={})

    def make(channel: str, rendered: dict[str, Any], **fields: Any) -> Message:
        counter["n"] += 1
        profile = fields.pop("profile", None) or ProfileFactory(project=project)
        # A user is in a journey once at a time: a second message to them is from a past stay.
        busy = Enrollment.objects.filter(journey=journey, profile=profile, state="active").exists()
        enrollment = Enrollment.objects.create(
            project=project,
            journey=journey,
            version=version,
            profile=profile,
            node="send",
            state=Enrollment.State.EXITED if busy else Enrollment.State.ACTIVE,
        )
        now = timezone.now()
        values: dict[str, Any] = {
            "project": project,
            "journey": journey,
            "enrollment": enrollment,
            "profile": profile,
            "node": "send",
            "visit": 1,
            "channel": channel,
            "rendered": rendered,
            "created_at": now,
            "next_attempt_at": now,
            **fields,
        }
        return Message.objects.create(**values)

    return make
