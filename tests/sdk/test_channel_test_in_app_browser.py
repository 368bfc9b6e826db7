"""An admin's in-app test send, end to end: the API answered by daphne in another process
(the embedded default with its file cache, and Redis), the SDK on a customer's page of its
own origin. An open page of the profile pops the test message up within 2 s and the API
says it was shown; for a profile with no page open it says queued, and the pop-up comes
with that profile's next page view.

PostgreSQL only, like tests/sdk/test_in_app_browser.py whose server and page it uses.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from accounts.services import token_issue
from engine.models import Project
from tests.factories import ProfileFactory
from tests.sdk import test_in_app_browser as harness

pytestmark = harness.pytestmark
# The daphne server, the customer's site and its pages, fresh caches (Redis flushed after).
_fresh_engine_caches = harness._fresh_engine_caches
server = harness.server
site = harness.site
browser = harness.browser
open_page = harness.open_page


def send_test(base: str, project: Project, token: str, to: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base}/api/v1/projects/{project.pk}/channels/in_app/test",
        data=json.dumps({"to": to}).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        assert response.status == 200
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def pop_up(page: Any, started: float) -> Any:
    dialog = page.get_by_role("dialog")
    dialog.wait_for(state="visible", timeout=2_000)
    assert time.monotonic() - started < 2
    return dialog


@harness.closes_its_connection
def test_a_test_in_app_message_pops_up_on_an_open_page_or_waits_for_the_next_one(
    project: Project, marketer: Any, server: str, open_page: Callable[[str], Any]
) -> None:
    _, token = token_issue(user=marketer)
    ProfileFactory(project=project, external_id="u-42")
    ProfileFactory(project=project, external_id="u-7")
    title = f"Test message from Journeys ({project.name})"

    page = open_page("u-42")
    page.wait_for_function("() => window.journeys.inApp.connected", timeout=5_000)
    started = time.monotonic()
    answer = send_test(server, project, token, "u-42")
    assert answer["outcome"] == "sent"
    assert answer["detail"]["shown"] is True, answer
    assert answer["message"] == "Shown now on an open page of u-42."
    dialog = pop_up(page, started)
    assert dialog.get_by_role("heading").inner_text() == title

    answer = send_test(server, project, token, "u-7")
    assert answer["detail"]["shown"] is False, answer
    assert answer["message"].startswith("Queued: no page of u-7 is open right now.")
    later = open_page("u-7")
    dialog = pop_up(later, later.started)
    assert dialog.get_by_role("heading").inner_text() == title
    assert page.errors == []
    assert later.errors == []
