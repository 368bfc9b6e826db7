"""The marketer's pages through Django's test client: sign-in, journey list, settings, profiles."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from builder.models import Journey
from engine.models import Membership, Project
from tests.engine.domain.examples import contract_example
from tests.factories import MembershipFactory, ProfileFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def editor(project: Project) -> Any:
    user = UserFactory(username="eve", first_name="Eve", last_name="Editor")
    MembershipFactory(project=project, user=user, role=Membership.Role.EDITOR)
    return user


# -- sign in and out ------------------------------------------------------------------------


def test_root_sends_a_signed_out_visitor_to_the_sign_in_page() -> None:
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_a_member_who_is_not_staff_signs_in_and_lands_on_the_journey_list(
    marketer: Any, project: Project
) -> None:
    assert not marketer.is_staff
    client = Client()
    page = client.get("/login/?next=/")
    assert page.status_code == 200
    assert b'<label for="id_username">Username</label>' in page.content
    response = client.post(
        "/login/", {"username": "ana", "password": "pw-for-tests", "next": "/"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/journeys/"
    assert b"<h1>Journeys</h1>" in response.content
    assert b"Shop" in response.content


def test_a_wrong_password_says_what_to_do_next(marketer: Any) -> None:
    response = Client().post("/login/", {"username": "ana", "password": "nope"})
    assert response.status_code == 200
    assert b"do not match" in response.content
    assert b"reset your password" in response.content


def test_log_out_is_a_post_and_shows_the_signed_out_page(marketer: Any, project: Project) -> None:
    client = signed_in(marketer)
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert b"You are signed out" in response.content
    assert client.get("/journeys/").status_code == 302


def test_password_reset_sends_a_link_that_sets_a_new_password(marketer: Any) -> None:
    client = Client()
    response = client.post("/password-reset/", {"email": "ana@example.com"})
    assert response["Location"] == "/password-reset/done/"
    assert len(mail.outbox) == 1
    link = next(w for w in mail.outbox[0].body.split() if "/password-reset/" in w)
    path = link.split("://", 1)[1].split("/", 1)[1]
    form = client.get("/" + path, follow=True)
    assert b"Choose a new password" in form.content
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-new-secret-42", "new_password2": "a-new-secret-42"},
        follow=True,
    )
    assert b"Your password is changed" in done.content
    assert Client().login(username="ana", password="a-new-secret-42")


# -- the shell ------------------------------------------------------------------------------


def test_the_shell_has_the_switcher_navigation_user_and_a_log_out_button(
    marketer: Any, project: Project
) -> None:
    second = ProjectFactory(name="Blog")
    MembershipFactory(project=second, user=marketer, role=Membership.Role.VIEWER)
    html = signed_in(marketer).get("/journeys/").content.decode()
    assert '<label for="project-switcher-select" class="visually-hidden">Project</label>' in html
    assert ">Shop</option>" in html
    assert ">Blog</option>" in html
    for name in ("Journeys", "Profiles", "Settings"):
        assert f">{name}</a>" in html
    assert ">Log out</button>" in html
    assert "<script>" not in html
    assert "onclick" not in html


def test_switching_project_changes_the_pages_and_refuses_a_foreign_project(
    marketer: Any, project: Project, other_project: Project
) -> None:
    second = Project.objects.create(name="Blog")
    MembershipFactory(project=second, user=marketer, role=Membership.Role.VIEWER)
    client = signed_in(marketer)
    response = client.post("/projects/switch", {"project": second.pk, "next": "/settings/"})
    assert response["Location"] == "/settings/"
    page = client.get("/settings/").content.decode()
    assert 'value="Blog"' in page
    assert "only a project admin can change them" in page
    client.post("/projects/switch", {"project": other_project.pk})
    assert 'value="Blog"' in client.get("/settings/").content.decode()


def test_a_signed_in_user_without_a_project_is_told_how_to_get_one() -> None:
    loner = UserFactory(username="lone")
    response = signed_in(loner).get("/journeys/")
    assert response.status_code == 200
    assert b"You are not in a project yet" in response.content


# -- journey list ---------------------------------------------------------------------------


def test_an_empty_list_tells_a_newcomer_what_to_do_next(marketer: Any, project: Project) -> None:
    html = signed_in(marketer).get("/journeys/").content.decode()
    assert "No journeys yet" in html
    assert 'href="/journeys/new?form">New journey</a>' in html
    assert "load_demo" in html


def test_the_list_shows_status_editor_and_figures_in_a_fixed_number_of_queries(
    marketer: Any,
    editor: Any,
    project: Project,
    make_journey: Callable[..., Journey],
    enroll: Callable[..., Any],
) -> None:
    from builder import services

    live = make_journey(status="live", name="Cart abandonment")
    services.journey_update(journey=live, user=editor, name="Cart rescue")
    enroll(live, "mail", state="exited", exit_reason="goal_met")
    enroll(live, "mail", state="exited", exit_reason="time_out")
    enroll(live, "wait")
    enroll(live, "wait")
    make_journey(name="Welcome")
    client = signed_in(marketer)
    client.get("/journeys/")  # warm the session and content types
    with CaptureQueriesContext(connection) as few:
        html = client.get("/journeys/").content.decode()
    for i in range(3):
        make_journey(name=f"More {i}")
    with CaptureQueriesContext(connection) as many:
        client.get("/journeys/")
    assert len(many.captured_queries) == len(few.captured_queries)
    assert 'href="/journeys/' + str(live.pk) + '/">Cart rescue</a>' in html
    assert "status-live" in html
    assert "status-draft" in html
    assert "by Eve Editor" in html
    row = html.split("Cart rescue", 1)[1].split("</tr>", 1)[0]
    cells = [
        " ".join(re.sub(r"<[^>]+>", " ", c).split())
        for c in re.findall(r'<td class="num">(.*?)</td>', row, re.S)
    ]
    assert cells == ["4", "1 goal met", "1", "25.0%"]


def test_search_status_filter_and_sort(
    marketer: Any, project: Project, make_journey: Callable[..., Journey]
) -> None:
    make_journey(status="live", name="Cart abandonment")
    make_journey(name="Welcome series")
    make_journey(name="Birthday")
    client = signed_in(marketer)
    found = client.get("/journeys/?q=welc").content.decode()
    assert "Welcome series" in found
    assert "Birthday" not in found
    live = client.get("/journeys/?status=live").content.decode()
    assert "Cart abandonment" in live
    assert "Welcome series" not in live
    by_name = client.get("/journeys/?sort=name").content.decode()
    assert by_name.index("Birthday") < by_name.index("Cart abandonment") < by_name.index("Welcome")
    none = client.get("/journeys/?q=zzz").content.decode()
    assert "No journey matches" in none
    assert "Clear filters" in none
    assert client.get("/journeys/?status=bogus&sort=bogus").status_code == 200


def test_new_journey_creates_a_draft_and_opens_it_in_the_builder(
    editor: Any, project: Project
) -> None:
    client = signed_in(editor)
    assert b'<label for="id_name">Journey name</label>' in client.get("/journeys/new?form").content
    response = client.post("/journeys/new", {"name": "Welcome series", "event": "Signed Up"})
    journey = Journey.objects.get(name="Welcome series")
    assert response["Location"] == f"/journeys/{journey.pk}/"
    assert journey.status == "draft"
    assert journey.created_by == editor
    assert journey.definition["entry"]["event"] == "Signed Up"


def test_opening_new_journey_makes_an_untitled_draft_in_the_builder(
    editor: Any, project: Project
) -> None:
    response = signed_in(editor).get("/journeys/new")
    journey = Journey.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/journeys/{journey.pk}/"
    assert (journey.name, journey.status, journey.created_by) == (
        "Untitled journey",
        "draft",
        editor,
    )


def test_new_journey_without_a_name_says_what_to_type(editor: Any, project: Project) -> None:
    response = signed_in(editor).post("/journeys/new", {"name": " "})
    assert response.status_code == 400
    assert "Give the journey a name" in response.content.decode()
    assert not Journey.objects.exists()


def test_duplicate_delete_and_export(
    marketer: Any, project: Project, make_journey: Callable[..., Journey]
) -> None:
    draft = make_journey(name="Draft one")
    live = make_journey(status="live", name="Running")
    client = signed_in(marketer)
    client.post(f"/journeys/{live.pk}/duplicate")
    assert Journey.objects.filter(name="Running (copy)", status="draft").exists()
    refused = client.post(f"/journeys/{live.pk}/delete", follow=True).content.decode()
    assert "only drafts can be deleted" in refused
    assert Journey.objects.filter(pk=live.pk).exists()
    client.post(f"/journeys/{draft.pk}/delete")
    assert not Journey.objects.filter(pk=draft.pk).exists()
    exported = client.get(f"/journeys/{live.pk}/export")
    assert exported["Content-Disposition"] == f'attachment; filename="running-{live.pk}.json"'
    assert json.loads(exported.content)["definition"] == contract_example()


def test_import_creates_a_draft_and_a_bad_file_says_what_is_wrong(
    marketer: Any, project: Project
) -> None:
    client = signed_in(marketer)
    document = {"format": "journeys/v1", "name": "Imported", "definition": contract_example()}
    upload = io.BytesIO(json.dumps(document).encode())
    upload.name = "imported.json"
    response = client.post("/journeys/import", {"file": upload})
    journey = Journey.objects.get(name="Imported")
    assert response["Location"] == f"/journeys/{journey.pk}/"
    bad = io.BytesIO(b"not json")
    bad.name = "x.json"
    page = client.post("/journeys/import", {"file": bad}, follow=True).content.decode()
    assert "That file is not JSON" in page
    broken = dict(document, definition={"nodes": []})
    upload = io.BytesIO(json.dumps(broken).encode())
    upload.name = "broken.json"
    page = client.post("/journeys/import", {"file": upload}, follow=True).content.decode()
    assert "does not validate at entry" in page


def test_a_viewer_sees_journeys_but_no_buttons_that_change_them(
    viewer: Any, project: Project, make_journey: Callable[..., Journey]
) -> None:
    draft = make_journey(name="Draft one")
    client = signed_in(viewer)
    html = client.get("/journeys/").content.decode()
    assert "Draft one" in html
    assert ">Export</a>" in html
    assert "Duplicate" not in html
    assert ">Delete</button>" not in html
    assert "New journey" not in html
    refused = client.post("/journeys/new", {"name": "x"})
    assert refused.status_code == 403
    assert "Viewers cannot change journeys." in refused.content.decode()
    assert "ask a project admin" in refused.content.decode()
    assert client.post(f"/journeys/{draft.pk}/delete").status_code == 403
    assert client.post(f"/journeys/{draft.pk}/duplicate").status_code == 403
    assert Journey.objects.count() == 1


def test_journeys_of_another_project_are_not_found(
    marketer: Any, other_marketer: Any, other_project: Project, project: Project
) -> None:
    from builder import services

    theirs = services.journey_create(
        project=other_project, user=other_marketer, name="Theirs", definition=contract_example()
    )
    client = signed_in(marketer)
    assert client.get(f"/journeys/{theirs.pk}/export").status_code == 404
    assert client.post(f"/journeys/{theirs.pk}/delete").status_code == 404
    assert "Theirs" not in client.get("/journeys/").content.decode()


# -- settings -------------------------------------------------------------------------------


def test_an_admin_changes_name_time_zone_and_identity_verification(
    marketer: Any, project: Project
) -> None:
    client = signed_in(marketer)
    response = client.post(
        "/settings/",
        {"name": "Shop EU", "timezone": "Europe/Paris", "identity_verification": "on"},
    )
    assert response["Location"] == "/settings/"
    project.refresh_from_db()
    assert (project.name, project.timezone, project.identity_verification) == (
        "Shop EU",
        "Europe/Paris",
        True,
    )


def test_a_time_zone_outside_the_list_is_refused_with_what_to_pick(
    marketer: Any, project: Project
) -> None:
    response = signed_in(marketer).post("/settings/", {"name": "Shop", "timezone": "Mars/Base"})
    assert response.status_code == 400
    assert "Pick a time zone from the list" in response.content.decode()
    project.refresh_from_db()
    assert project.timezone == "UTC"


def test_settings_show_keys_with_copy_buttons_and_the_sdk_snippet(
    marketer: Any, project: Project
) -> None:
    html = signed_in(marketer).get("/settings/").content.decode()
    assert f'value="{project.ingest_key}"' in html
    assert ">Copy server key</button>" in html
    assert ">Rotate server key</button>" in html
    if hasattr(project, "sdk_key"):
        snippet = (
            f"&lt;script src=&quot;http://testserver/static/sdk/journeys.js&quot; "
            f"data-key=&quot;{project.sdk_key}&quot; async&gt;&lt;/script&gt;"
        )
        assert snippet in html
        assert ">Rotate public web key</button>" in html
    assert "ana" in html
    assert "Admin" in html


def test_settings_say_which_channels_send_and_never_show_a_secret(
    marketer: Any, project: Project, settings: Any
) -> None:
    settings.JOURNEYS_EMAIL_BACKEND = "record"
    settings.JOURNEYS_WEBHOOK_BACKEND = ""
    settings.TWILIO_AUTH_TOKEN = "tw-secret-123"
    html = signed_in(marketer).get("/settings/").content.decode()
    channels = html.split('id="channels"', 1)[1].split("</section>", 1)[0]
    email_row = channels.split('<th scope="row">Email</th>', 1)[1].split("</tr>", 1)[0]
    assert "Not configured" in email_row
    assert "messages are recorded, not sent" in email_row
    email_panel = channels.split('id="channel-email"', 1)[1].split('class="channel-row"', 1)[0]
    assert "EMAIL_URL" in email_panel  # what to set, once the row is unfolded
    webhook_row = channels.split('<th scope="row">Webhook</th>', 1)[1].split("</tr>", 1)[0]
    assert "From environment" in webhook_row
    assert "tw-secret-123" not in html


@pytest.mark.parametrize("kind", ["ingest", "sdk"])
def test_an_admin_rotates_a_key_and_the_old_one_is_gone(
    marketer: Any, project: Project, kind: str
) -> None:
    field = f"{kind}_key"
    if not hasattr(project, field):
        pytest.fail(f"Project.{field} is missing")
    old = getattr(project, field)
    response = signed_in(marketer).post("/settings/rotate-key", {"kind": kind}, follow=True)
    project.refresh_from_db()
    assert getattr(project, field) != old
    assert "stops working now" in response.content.decode()


def test_a_viewer_reads_settings_but_cannot_change_them_or_rotate_keys(
    viewer: Any, project: Project
) -> None:
    client = signed_in(viewer)
    html = client.get("/settings/").content.decode()
    assert "<fieldset disabled" in html
    assert "Save settings" not in html
    assert "Rotate" not in html
    assert f'value="{project.ingest_key}"' in html
    assert client.post("/settings/", {"name": "Mine", "timezone": "UTC"}).status_code == 403
    assert client.post("/settings/rotate-key", {"kind": "ingest"}).status_code == 403
    old = project.ingest_key
    project.refresh_from_db()
    assert (project.name, project.ingest_key) == ("Shop", old)


def test_an_editor_is_not_a_settings_admin(editor: Any, project: Project) -> None:
    client = signed_in(editor)
    assert client.post("/settings/", {"name": "Mine", "timezone": "UTC"}).status_code == 403


# -- profiles -------------------------------------------------------------------------------


def test_profile_search_by_id_email_or_phone(marketer: Any, project: Project) -> None:
    ProfileFactory(project=project, external_id="u-1", email="kim@example.com")
    ProfileFactory(project=project, external_id="u-2", phone="+33611223344")
    ProfileFactory(project=project, external_id="other")
    client = signed_in(marketer)
    by_email = client.get("/profiles/?q=kim@").content.decode()
    assert 'href="/profiles/u-1/"' in by_email
    assert "u-2" not in by_email
    assert 'href="/profiles/u-2/"' in client.get("/profiles/?q=112233").content.decode()
    assert "No profile matches" in client.get("/profiles/?q=zzz").content.decode()


def test_a_profile_page_shows_properties_and_the_timeline_in_plain_words(
    marketer: Any,
    project: Project,
    make_journey: Callable[..., Journey],
    enroll: Callable[..., Any],
) -> None:
    journey = make_journey(status="live", name="Cart abandonment")
    profile = ProfileFactory(
        project=project, external_id="u-1", properties={"first_name": "Kim", "plan": "gold"}
    )
    enroll(journey, "mail", state="exited", exit_reason="goal_met", profile=profile)
    html = signed_in(marketer).get("/profiles/u-1/").content.decode()
    assert "<h1>Kim</h1>" in html
    assert "plan" in html
    assert "gold" in html
    assert "Cart abandonment" in html
    assert "Reached the goal" in html


def test_an_unknown_or_foreign_profile_is_not_found(
    marketer: Any, project: Project, other_project: Project
) -> None:
    ProfileFactory(project=other_project, external_id="theirs")
    client = signed_in(marketer)
    missing = client.get("/profiles/nobody/")
    assert missing.status_code == 404
    assert "switch project at the top left" in missing.content.decode()
    assert client.get("/profiles/theirs/").status_code == 404


# -- demo data ------------------------------------------------------------------------------


def test_load_demo_adds_three_laid_out_labelled_valid_journeys_once(
    settings: Any, tmp_path: Any
) -> None:
    from django.core.management import call_command

    from engine.domain import validate

    settings.VAR_DIR = tmp_path
    call_command("load_demo", "--profiles", "5", stdout=io.StringIO())
    call_command("load_demo", "--profiles", "5", stdout=io.StringIO())
    journeys = {j.name: j for j in Journey.objects.filter(project__name="Demo Store")}
    assert sorted(journeys) == ["Cart abandonment", "Flight reminder (Date Time)", "Welcome series"]
    for journey in journeys.values():
        definition = journey.definition
        assert validate(definition) == []
        blocks = [definition["entry"], *definition["nodes"]]
        assert {b["id"] for b in blocks} == set(definition["layout"])
        assert all(b.get("label") for b in blocks)
    cart = journeys["Cart abandonment"].definition
    assert cart["entry"]["event"] == "Added To Cart"
    assert [n["type"] for n in cart["nodes"]] == ["delay", "past_behaviour", "push", "email"]
    assert {"from": "paid", "to": "push", "branch": "no"} in cart["edges"]
    assert journeys["Flight reminder (Date Time)"].definition["entry"]["type"] == "date_time"
    assert journeys["Welcome series"].definition["goals"]


def test_no_page_has_inline_script_or_event_handlers(
    marketer: Any, project: Project, make_journey: Callable[..., Journey]
) -> None:
    make_journey(name="Draft one")
    ProfileFactory(project=project, external_id="u-1")
    client = signed_in(marketer)
    pages = ["/journeys/", "/journeys/new?form", "/profiles/", "/profiles/u-1/", "/settings/"]
    bodies = [client.get(path).content.decode() for path in pages]
    bodies.append(Client().get("/login/").content.decode())
    bodies.append(Client().get("/password-reset/").content.decode())
    for html in bodies:
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
        assert re.findall(r"\son[a-z]+\s*=", html) == []


def test_settings_warn_when_a_browser_used_the_server_key(marketer: Any, project: Project) -> None:
    client = signed_in(marketer)
    assert "A web browser sent events with the" not in client.get("/settings/").content.decode()
    Client().post(
        "/api/v1/events",
        {"events": [{"profile_id": "u", "name": "A"}]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {project.ingest_key}",
        HTTP_ORIGIN="https://shop.example",
    )
    page = client.get("/settings/").content.decode()
    assert "A web browser sent events with the" in page
    assert "public web key" in page
