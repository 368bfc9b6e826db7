"""A delivery worker for tests: a process that runs the real delivery loop on a shared
database until its project has nothing queued (tests/engine/delivery/test_caps_hold_under_two_workers.py).

Run as ``python -m tests.engine.delivery.delivery_loop <project id> <start at> <deadline>``
(epoch seconds): every worker starts at the same instant, takes what is due in shuffled
batches of 10 (so two workers deliver to the same users at the same time) and stops once
nothing of the project is queued, or at the deadline.
"""

from __future__ import annotations

import os
import random
import sys
import time

import django


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeys_site.settings")
    django.setup()
    from django.utils import timezone

    from engine.delivery import deliver_messages, due_message_ids
    from engine.models import Message

    project_id, start_at, deadline = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    rng = random.Random(os.getpid())
    batches = 0
    while time.time() < start_at:
        time.sleep(0.002)
    while time.time() < deadline:
        ids = due_message_ids(timezone.now(), 200)
        if not ids:
            if not Message.objects.filter(project_id=project_id, status="queued").exists():
                break
            time.sleep(0.05)
            continue
        rng.shuffle(ids)
        for start in range(0, len(ids), 10):
            deliver_messages(ids[start : start + 10])
            batches += 1
    print(f"batches={batches}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
