"""The frequency cap under concurrent delivery: two worker processes deliver the same users'
SMS at the same time through a real local Twilio stand-in, on PostgreSQL. No user is ever
sent one over the cap, whatever the retries (503, retried with the slot it holds) and
permanent failures (400, which give their slot back) in between.

PostgreSQL only: the workers and the test share a real database.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from builder.models import Journey, JourneyVersion
from engine import limits
from engine.models import Enrollment, FrequencyCount, Message
from tests.engine.test_real_worker import _test_database_url
from tests.factories import ProfileFactory

ROOT = Path(__file__).resolve().parents[3]
USERS = 40
MESSAGES_PER_USER = 8
CAP = 3
DEADLINE_SECONDS = 90

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        urlparse(os.environ.get("DATABASE_URL", "")).scheme not in ("postgres", "postgresql"),
        reason="needs DATABASE_URL=postgres://... (the workers and the test share a database)",
    ),
]


def _bucket(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10


class TwilioStandIn:
    """Twilio's Messages endpoint on 127.0.0.1: about 1 message in 10 is refused for good
    (400), 1 in 10 answers 503 on its first try; the rest are accepted (201)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: list[tuple[str, str]] = []  # (To, Idempotency-Key)
        self.tries: Counter[str] = Counter()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                to = parse_qs(body.decode())["To"][0]
                key = self.headers.get("Idempotency-Key", "")
                with stand_in.lock:
                    stand_in.tries[key] += 1
                    first = stand_in.tries[key] == 1
                    bucket = _bucket(key)
                    if bucket == 0:
                        status, reply = 400, b'{"code": 21211, "message": "Invalid To"}'
                    elif bucket == 1 and first:
                        status, reply = 503, b'{"message": "busy"}'
                    else:
                        status, reply = 201, b'{"sid": "SM1", "status": "queued"}'
                        stand_in.accepted.append((to, key))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def twilio() -> Iterator[TwilioStandIn]:
    stand_in = TwilioStandIn()
    thread = threading.Thread(target=stand_in.httpd.serve_forever, daemon=True)
    thread.start()
    yield stand_in
    stand_in.httpd.shutdown()
    stand_in.httpd.server_close()


def _outbox(project: Any) -> list[Any]:
    """USERS profiles with MESSAGES_PER_USER queued SMS each (as many journeys would)."""
    journey = Journey.objects.create(project=project, name="Reminders", status="live")
    version = JourneyVersion.objects.create(journey=journey, number=1, definition={})
    now = timezone.now()
    profiles = []
    for n in range(USERS):
        profile = ProfileFactory(project=project, phone=f"+1555010{n:04d}")
        profiles.append(profile)
        enrollment = Enrollment.objects.create(
            project=project, journey=journey, version=version, profile=profile, node="sms"
        )
        Message.objects.bulk_create(
            Message(
                project=project,
                journey=journey,
                enrollment=enrollment,
                profile=profile,
                node="sms",
                visit=visit,
                channel="sms",
                rendered={"to": profile.phone, "body": f"Reminder {visit}"},
                created_at=now,
                next_attempt_at=now,
            )
            for visit in range(1, MESSAGES_PER_USER + 1)
        )
    return profiles


def _start(project_id: int, twilio: TwilioStandIn, tmp: Path, count: int) -> list[Any]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "journeys_site.settings",
        "DATABASE_URL": _test_database_url(),
        "DJANGO_SECRET_KEY": "caps-test-not-secret",
        "JOURNEYS_VAR_DIR": str(tmp / "var"),
        "JOURNEYS_SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": "AC123",
        "TWILIO_AUTH_TOKEN": "token",
        "TWILIO_FROM": "+15550000",
        "TWILIO_API_URL": twilio.url,
        "JOURNEYS_DELIVERY_THREADS": "4",
        "LOG_LEVEL": "WARNING",
    }
    start_at = time.time() + 3  # both start together, once Django is set up
    deadline = start_at + DEADLINE_SECONDS
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.engine.delivery.delivery_loop",
                str(project_id),
                str(start_at),
                str(deadline),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(count)
    ]


def test_two_workers_delivering_to_the_same_users_never_exceed_the_cap(
    project: Any, twilio: TwilioStandIn, tmp_path: Path
) -> None:
    limits.limits_set(project=project, frequency_caps={"sms": {"day": CAP, "week": 20}})
    profiles = _outbox(project)
    workers = _start(project.pk, twilio, tmp_path, 2)
    try:
        while any(w.poll() is None for w in workers):
            # Time passes for retries: a message waiting out its backoff (>= 24 s, longer
            # than any lease) is due now.
            now = timezone.now()
            Message.objects.filter(
                project=project, status="queued", next_attempt_at__gt=now + timedelta(seconds=22)
            ).update(next_attempt_at=now)
            time.sleep(0.3)
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    outputs = [w.communicate()[0].decode(errors="replace") for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    # Both workers delivered (the deliveries overlapped, to the same users).
    assert all("batches=" in o and "batches=0" not in o for o in outputs), outputs

    messages = Message.objects.filter(project=project)
    assert not messages.filter(status="queued").exists()
    sent_at_receiver = Counter(to for to, _ in twilio.accepted)
    sent_in_db = Counter(messages.filter(status="sent").values_list("profile__phone", flat=True))
    assert sent_at_receiver == sent_in_db  # what the DB says sent is what arrived
    assert len({key for _, key in twilio.accepted}) == len(twilio.accepted)  # no double send
    assert max(sent_at_receiver.values()) <= CAP
    # The cap was reached, not merely respected: a user was refused a send only while CAP
    # slots were held, and each held slot went to a message that was sent or ended failed.
    failed_by_user = Counter(
        messages.filter(status="failed").values_list("profile__phone", flat=True)
    )
    for p in profiles:
        least = min(CAP, MESSAGES_PER_USER) - failed_by_user[p.phone]
        assert sent_at_receiver[p.phone] >= least, (p.phone, sent_at_receiver, failed_by_user)
    assert sum(sent_at_receiver.values()) > USERS * CAP * 0.8

    # Retried messages kept their slot; refused ones gave theirs back.
    assert sum(n > 1 for n in twilio.tries.values()) > 0
    failed = messages.filter(status="failed")
    assert failed.exists()
    assert all(limits.SLOTS_KEY not in m.delivery for m in failed)
    counts = dict(
        FrequencyCount.objects.filter(profile__project=project, period="day").values_list(
            "profile__phone", "count"
        )
    )
    assert counts == dict(sent_in_db)
    skipped = messages.filter(status="skipped")
    assert set(skipped.values_list("error", flat=True)) == {
        f"frequency cap: {CAP} SMS per day reached"
    }
    assert skipped.count() + failed.count() + sum(sent_in_db.values()) == USERS * MESSAGES_PER_USER
