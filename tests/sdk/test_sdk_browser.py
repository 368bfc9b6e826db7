"""The web SDK in a real Chromium, embedded in a page of ANOTHER origin.

The host page is served by a plain ``http.server`` on 127.0.0.1; the SDK and the
ingest API come from Django's ``live_server`` (on ``localhost``), so every request
the SDK makes is cross-origin and goes through the CORS preflight, as on a
customer's site.
"""

from __future__ import annotations

import functools
import http.server
import inspect
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.browser import launch_chromium, wait_for

SDK_FILE = Path(__file__).resolve().parents[2] / "static" / "sdk" / "journeys.js"

# The same pre-load stub docs/sdk.md tells customers to paste.
STUB = (
    "<script>!function(w){var j=w.journeys=w.journeys||[];"
    '["identify","track","page","reset","flush","onMessage"].forEach(function(m){'
    "j[m]=j[m]||function(){j.push([m].concat([].slice.call(arguments)))}})}(window);</script>"
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

T = TypeVar("T")


# --- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


@pytest.fixture
def host_dir(tmp_path: Path) -> Path:
    d = tmp_path / "site"
    d.mkdir()
    return d


@pytest.fixture
def host_server(host_dir: Path) -> Iterator[str]:
    """A static server for the customer's page, on a different origin than the API."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(host_dir))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def project(django_user_model: Any) -> Any:
    from engine import models

    owner = django_user_model.objects.create_user(username="sdk-owner", password="x")
    try:
        from engine.services import project_create
    except ImportError:
        return models.Project.objects.create(name="Shop", timezone="UTC")
    params = inspect.signature(project_create).parameters
    tz_arg = "timezone_name" if "timezone_name" in params else "timezone"
    return project_create(name="Shop", owner=owner, **{tz_arg: "UTC"})


@pytest.fixture
def sdk_src(live_server: Any, host_dir: Path, host_server: str) -> tuple[str, str]:
    """(script src, extra attributes). Prefer the SDK as the app serves it."""
    url = f"{live_server.url}/static/sdk/journeys.js"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            if resp.status == 200:
                return url, ""
    except urllib.error.URLError:
        pass
    # The live server does not serve static files: serve the SDK from the host origin
    # and point it at the API explicitly.
    shutil.copy(SDK_FILE, host_dir / "journeys.js")
    return f"{host_server}/journeys.js", f'data-api="{live_server.url}"'


@pytest.fixture
def make_page(
    browser: Any, host_dir: Path, host_server: str, sdk_src: tuple[str, str]
) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def make(
        key: str,
        *,
        name: str = "index.html",
        title: str = "Shop home",
        before: str = "",
        path: str = "",
        referer: str | None = None,
    ) -> Any:
        src, extra = sdk_src
        (host_dir / name).write_text(
            f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head><body>"
            f"<h1>{title}</h1>{STUB}<script>{before}</script>"
            f'<script src="{src}" data-key="{key}" {extra} async></script></body></html>'
        )
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.errors = []  # uncaught exceptions in the page
        page.console = []  # (type, text)
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.on("console", lambda msg: page.console.append((msg.type, msg.text)))
        page.goto(f"{host_server}/{name}{path}", referer=referer)
        page.wait_for_function("() => window.journeys && window.journeys.version")
        return page

    yield make
    for c in contexts:
        c.close()


def events(project: Any, external_id: str, name: str | None = None) -> list[Any]:
    from engine.models import Event

    qs = Event.objects.filter(project=project, profile__external_id=external_id)
    if name:
        qs = qs.filter(name=name)
    return list(qs.order_by("ts", "id"))


def anon_id(page: Any) -> str:
    value = page.evaluate("() => localStorage.getItem('journeys.anonymous_id')")
    assert value, "no anonymous id in localStorage"
    assert value.startswith("anon-"), value
    return value


# --- tests ----------------------------------------------------------------------------


def test_page_view_on_load(make_page: Callable[..., Any], project: Any, host_server: str) -> None:
    page = make_page(
        project.ingest_key,
        path="?utm_source=newsletter&utm_campaign=black-friday",
        referer="https://www.google.com/",
    )
    anon = anon_id(page)
    found = wait_for(lambda: events(project, anon, "Page Viewed"))
    assert len(found) == 1, found
    props = found[0].properties
    assert (
        props["url"] == f"{host_server}/index.html?utm_source=newsletter&utm_campaign=black-friday"
    )
    assert "google.com" in props["referrer"]
    assert props["title"] == "Shop home"
    assert props["session_id"]
    assert props["utm_source"] == "newsletter"
    assert props["utm_campaign"] == "black-friday"
    assert found[0].client_id  # the SDK's per-event id, for dedupe
    assert page.errors == []


def test_track_with_properties(make_page: Callable[..., Any], project: Any) -> None:
    page = make_page(project.ingest_key)
    page.evaluate("() => journeys.track('Added To Cart', {price: 120, item: 'Red Nike Shoes'})")
    assert page.evaluate("() => journeys.flush()") is True
    anon = anon_id(page)
    found = wait_for(lambda: events(project, anon, "Added To Cart"))
    assert len(found) == 1
    assert found[0].properties == {"price": 120, "item": "Red Nike Shoes"}
    assert page.errors == []


def test_identify_merges_anonymous_profile(make_page: Callable[..., Any], project: Any) -> None:
    from engine.models import Profile

    page = make_page(project.ingest_key)
    anon = anon_id(page)
    page.evaluate("() => journeys.track('Added To Cart', {price: 120})")
    page.evaluate("() => journeys.identify('u-42', {first_name: 'Ana'})")
    page.evaluate("() => journeys.track('Charged', {amount: 120})")
    assert page.evaluate("() => journeys.flush()") is True
    assert page.evaluate("() => localStorage.getItem('journeys.profile_id')") == "u-42"

    def merged() -> bool:
        names = {e.name for e in events(project, "u-42")}
        return {"Page Viewed", "Added To Cart", "Charged"} <= names

    assert wait_for(merged), [e.name for e in events(project, "u-42")]
    assert events(project, anon) == []
    assert (
        Profile.objects.get(project=project, external_id="u-42").properties["first_name"] == "Ana"
    )

    # Identifying again as the same user is not a second merge and keeps the id.
    page.evaluate("() => journeys.identify('u-42')")
    page.evaluate("() => journeys.page()")
    assert page.evaluate("() => journeys.flush()") is True
    assert wait_for(lambda: len(events(project, "u-42", "Page Viewed")) == 2)

    # Logout: a fresh anonymous id, not merged into u-42.
    page.evaluate("() => journeys.reset()")
    new_anon = anon_id(page)
    assert new_anon != anon
    assert page.evaluate("() => localStorage.getItem('journeys.profile_id')") is None
    page.evaluate("() => journeys.track('Browsed')")
    assert page.evaluate("() => journeys.flush()") is True
    assert wait_for(lambda: events(project, new_anon, "Browsed"))
    assert page.errors == []


def test_spa_navigation_page_view(
    make_page: Callable[..., Any], project: Any, host_server: str
) -> None:
    page = make_page(project.ingest_key)
    anon = anon_id(page)
    assert wait_for(lambda: len(events(project, anon, "Page Viewed")) == 1)
    # Routers usually set the title right after pushState; the SDK waits a moment for it.
    page.evaluate(
        "() => { history.pushState({}, '', '/products/42'); document.title = 'Red Nike Shoes'; }"
    )
    assert wait_for(lambda: len(events(project, anon, "Page Viewed")) == 2)
    # Same URL again, and a #fragment change: neither is a new page.
    page.evaluate(
        "() => { history.replaceState({}, '', '/products/42'); location.hash = 'reviews'; }"
    )
    page.evaluate("() => new Promise(r => setTimeout(r, 200))")
    page.evaluate("() => journeys.flush()")
    views = events(project, anon, "Page Viewed")
    assert len(views) == 2, [v.properties for v in views]
    first, second = views[0].properties, views[1].properties
    assert second["url"] == f"{host_server}/products/42"
    assert second["referrer"] == first["url"] == f"{host_server}/index.html"
    assert second["title"] == "Red Nike Shoes"
    assert second["session_id"] == first["session_id"]
    assert page.errors == []


def test_wrong_key_does_not_break_the_page(make_page: Callable[..., Any], project: Any) -> None:
    from engine.models import Event

    page = make_page("not-a-real-key")
    assert page.evaluate("() => journeys.track('Added To Cart', {price: 1}) === undefined")
    assert page.evaluate("() => journeys.flush()") in (True, False)  # resolves, never rejects
    assert page.evaluate("() => 1 + 1") == 2  # the page still runs
    assert page.errors == []
    # The SDK says why in the console: the server refused the key.
    assert wait_for(
        lambda: any(
            kind == "warning" and "[journeys]" in text and "401" in text
            for kind, text in page.console
        )
    ), page.console
    assert not Event.objects.filter(project=project).exists()


def test_calls_queued_by_the_stub_are_replayed(make_page: Callable[..., Any], project: Any) -> None:
    page = make_page(
        project.ingest_key,
        before="journeys.track('Early Bird', {n: 1}); journeys.identify('u-7', {plan: 'pro'});",
    )
    page.evaluate("() => journeys.flush()")
    found = wait_for(lambda: events(project, "u-7", "Early Bird"))
    assert found
    assert found[0].properties == {"n": 1}
    # The automatic page view happened before identify and was merged into u-7 too.
    assert wait_for(lambda: events(project, "u-7", "Page Viewed"))
    assert page.errors == []


def test_queue_survives_leaving_the_page(
    make_page: Callable[..., Any], project: Any, host_server: str
) -> None:
    page = make_page(project.ingest_key)
    anon = anon_id(page)
    # Leave before the 500 ms batch timer fires: pagehide sends with keepalive, and
    # whatever did not make it is sent by the next page load (same ids: no duplicates).
    page.evaluate("() => journeys.track('Left Quickly', {x: 1})")
    page.goto(f"{host_server}/index.html?next=1")
    page.wait_for_function("() => window.journeys && window.journeys.version")
    page.evaluate("() => journeys.flush()")
    assert wait_for(lambda: events(project, anon, "Left Quickly"))
    page.evaluate("() => new Promise(r => setTimeout(r, 300))")
    assert len(events(project, anon, "Left Quickly")) == 1
