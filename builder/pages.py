"""The marketer's pages: journey list and its actions, new journey, profiles, project settings."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from builder import channel_pages, page_selectors, page_services, services
from builder.context import SESSION_KEY, current_membership
from builder.selectors import Forbidden, NotFound, journey_get_for_user
from engine import consent
from engine.domain import DefinitionInvalid
from engine.models import Membership
from engine.selectors import membership_get
from stats import selectors as stats_selectors

NEW_ENTRY_EVENT = "Signed Up"
NEW_JOURNEY_NAME = "Untitled journey"
IMPORT_MAX_BYTES = 2 * 1024 * 1024


def _membership_or_404(request: HttpRequest) -> Membership:
    membership = current_membership(request)
    if membership is None:
        raise Http404("You are not a member of any project yet.")
    return membership


def _editor(request: HttpRequest) -> Membership:
    membership = _membership_or_404(request)
    if not membership.can_edit:
        raise PermissionDenied("Viewers cannot change journeys.")
    return membership


def _back(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _no_project(request: HttpRequest, section: str) -> HttpResponse:
    return render(request, "builder/no_project.html", {"nav_section": section})


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return redirect("journey-list")


@login_required
@require_POST
def project_switch(request: HttpRequest) -> HttpResponse:
    try:
        project_id = int(request.POST.get("project", ""))
        membership = membership_get(user=request.user, project_id=project_id)
    except (ValueError, NotFound):
        messages.error(request, "Choose one of your projects from the list.")
        return redirect("journey-list")
    request.session[SESSION_KEY] = membership.project_id
    messages.success(request, f"You are now working in {membership.project.name}.")
    return redirect(_back(request, "/journeys/"))


# -- journeys -------------------------------------------------------------------------------


@login_required
@require_GET
def journey_list(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    if membership is None:
        return _no_project(request, "journeys")
    query = page_selectors.JourneyQuery.from_params(request.GET)
    rows = page_selectors.journey_rows(project_id=membership.project_id, query=query)
    total = page_selectors.journey_count(project_id=membership.project_id)
    return render(
        request,
        "builder/journey_list.html",
        {
            "nav_section": "journeys",
            "rows": rows,
            "query": query,
            "total": total,
            "statuses": page_selectors.STATUS_CHOICES,
            "sorts": page_selectors.SORT_CHOICES,
            "filtered": query.is_filtered,
            "new_entry_event": NEW_ENTRY_EVENT,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def journey_new(request: HttpRequest) -> HttpResponse:
    membership = _editor(request)
    values = {"name": "", "event": NEW_ENTRY_EVENT}
    errors: dict[str, str] = {}
    if request.method == "GET" and "form" not in request.GET:
        # CONTRACT.md "Web app": /journeys/new is a new draft opened in the builder (the
        # marketer names it there). ?form shows the name-and-entry form instead.
        journey = services.journey_create(
            project=membership.project,
            user=request.user,
            name=NEW_JOURNEY_NAME,
            definition=page_services.new_definition(event=NEW_ENTRY_EVENT),
        )
        return redirect(f"/journeys/{journey.pk}/")
    if request.method == "POST":
        values = {
            "name": request.POST.get("name", "").strip(),
            "event": request.POST.get("event", "").strip() or NEW_ENTRY_EVENT,
        }
        if not values["name"]:
            errors["name"] = "Give the journey a name, such as “Welcome series”."
        elif len(values["name"]) > services.NAME_MAX:
            errors["name"] = f"Keep the name under {services.NAME_MAX} characters."
        if not errors:
            try:
                journey = services.journey_create(
                    project=membership.project,
                    user=request.user,
                    name=values["name"],
                    definition=page_services.new_definition(event=values["event"]),
                )
            except DefinitionInvalid as exc:
                errors["event"] = "; ".join(e.message for e in exc.errors)
            else:
                return redirect(f"/journeys/{journey.pk}/")
    status = 400 if errors else 200
    return render(
        request,
        "builder/journey_new.html",
        {
            "nav_section": "journeys",
            "values": values,
            "errors": errors,
            "event_names": page_selectors.event_names(project_id=membership.project_id),
        },
        status=status,
    )


def _journey_for_action(request: HttpRequest, journey_id: int) -> Any:
    try:
        return journey_get_for_user(user=request.user, journey_id=journey_id, edit=True)
    except NotFound as exc:
        raise Http404("No such journey in your projects.") from exc
    except Forbidden as exc:
        raise PermissionDenied(str(exc)) from exc


@login_required
@require_POST
def journey_duplicate(request: HttpRequest, journey_id: int) -> HttpResponse:
    journey = _journey_for_action(request, journey_id)
    copy = services.journey_duplicate(journey=journey, user=request.user)
    messages.success(request, f"“{copy.name}” was created as a draft.")
    return redirect(_back(request, "/journeys/"))


@login_required
@require_POST
def journey_delete(request: HttpRequest, journey_id: int) -> HttpResponse:
    journey = _journey_for_action(request, journey_id)
    if journey.status != journey.Status.DRAFT:
        messages.error(
            request,
            f"“{journey.name}” is {journey.get_status_display().lower()}: only drafts can be "
            "deleted here. Stop it from the builder first.",
        )
        return redirect(_back(request, "/journeys/"))
    name = journey.name
    try:
        services.journey_delete(journey=journey, user=request.user)
    except services.JourneyError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"The draft “{name}” was deleted.")
    return redirect(_back(request, "/journeys/"))


@login_required
@require_GET
def journey_export(request: HttpRequest, journey_id: int) -> HttpResponse:
    try:
        journey = journey_get_for_user(user=request.user, journey_id=journey_id)
    except NotFound as exc:
        raise Http404("No such journey in your projects.") from exc
    document = services.journey_export(journey=journey)
    response = JsonResponse(document, json_dumps_params={"indent": 2, "ensure_ascii": False})
    filename = page_selectors.export_filename(journey)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_POST
def journey_import(request: HttpRequest) -> HttpResponse:
    membership = _editor(request)
    upload = request.FILES.get("file")
    problem = None
    document: Any = None
    if upload is None:
        problem = "Choose a journey file (.json) exported from Journeys, then press Import."
    elif upload.size is not None and upload.size > IMPORT_MAX_BYTES:
        problem = "That file is larger than 2 MB; a journey export is much smaller."
    else:
        try:
            document = json.loads(upload.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested too deep
            problem = "That file is not JSON. Use the file the Export button downloads."
        else:
            if not isinstance(document, dict):
                problem = "That JSON is not a journey export (it should be an object)."
    if problem is None:
        try:
            journey = services.journey_import(
                project=membership.project, user=request.user, document=document
            )
        except services.ImportInvalid as exc:
            problem = f"The file's {exc.field} is not right: {exc.message}"
        except DefinitionInvalid as exc:
            first = exc.errors[0] if exc.errors else None
            where = f" at {first.path}" if first and first.path else ""
            problem = f"The journey in that file does not validate{where}: " + (
                first.message if first else "unknown error"
            )
        else:
            messages.success(request, f"“{journey.name}” was imported as a draft.")
            return redirect(f"/journeys/{journey.pk}/")
    messages.error(request, problem)
    return redirect("journey-list")


# -- profiles -------------------------------------------------------------------------------


@login_required
@require_GET
def profile_list(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    if membership is None:
        return _no_project(request, "profiles")
    q = request.GET.get("q", "").strip()[:255]
    page = page_selectors.profile_search(project_id=membership.project_id, q=q)
    return render(
        request,
        "builder/profile_list.html",
        {"nav_section": "profiles", "q": q, **page},
    )


@login_required
@require_GET
def profile_detail(request: HttpRequest, profile_id: str) -> HttpResponse:
    membership = _membership_or_404(request)
    try:
        profile = stats_selectors.profile_resolve(
            project_id=membership.project_id, external_id=profile_id
        )
        timeline = stats_selectors.profile_timeline(
            user=request.user, project_id=membership.project_id, external_id=profile_id
        )
    except NotFound as exc:
        raise Http404("No profile with that id in this project.") from exc
    return render(
        request,
        "builder/profile_detail.html",
        {
            "nav_section": "profiles",
            "profile": profile,
            "properties": sorted(profile.properties.items()) if profile.properties else [],
            "journeys": page_selectors.timeline_for_people(timeline, membership.project),
            "subscriptions": consent.subscriptions_of(profile),
        },
    )


# -- settings -------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def project_settings(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    if membership is None:
        return _no_project(request, "settings")
    project = membership.project
    is_admin = membership.role == Membership.Role.ADMIN
    errors: dict[str, str] = {}
    values = None
    if request.method == "POST":
        if not is_admin:
            raise PermissionDenied("Only project admins change settings.")
        values = {
            "name": request.POST.get("name", "").strip(),
            "timezone": request.POST.get("timezone", "").strip(),
            "identity_verification": request.POST.get("identity_verification") == "on",
        }
        try:
            page_services.project_update(
                project=project,
                name=str(values["name"]),
                timezone_name=str(values["timezone"]),
                identity_verification=bool(values["identity_verification"]),
            )
        except page_services.SettingsInvalid as exc:
            errors = exc.errors
        else:
            messages.success(request, "Project settings saved.")
            return redirect("project-settings")
    return settings_page(request, membership, values=values, errors=errors)


def settings_page(
    request: HttpRequest,
    membership: Membership,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    channels: list[dict[str, Any]] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The settings page; ``errors`` (general) or ``channels`` (with a channel form's errors)
    when a form came back with problems."""
    project = membership.project
    errors = errors or {}
    if values is None:
        values = {
            "name": project.name,
            "timezone": project.timezone,
            "identity_verification": project.identity_verification,
        }
    if channels is None:  # the outcome of a test send, shown once next to its channel
        test = request.session.pop(channel_pages.TEST_SESSION_KEY, None)
        channels = channel_pages.channels_context(project, test=test)
    origin = f"{request.scheme}://{request.get_host()}"
    return render(
        request,
        "builder/settings.html",
        {
            "nav_section": "settings",
            "project": project,
            "is_admin": membership.role == Membership.Role.ADMIN,
            "values": values,
            "errors": errors,
            "timezones": page_selectors.timezone_choices(),
            "keys": page_selectors.project_keys(project=project, origin=origin),
            "members": page_selectors.project_members(project_id=project.pk),
            "channels": channels,
            "members_template": page_selectors.members_template(),
        },
        status=400 if errors else status,
    )


@login_required
@require_POST
def project_rotate_key(request: HttpRequest) -> HttpResponse:
    membership = _membership_or_404(request)
    if membership.role != Membership.Role.ADMIN:
        raise PermissionDenied("Only project admins rotate keys.")
    kind = request.POST.get("kind", "")
    try:
        label = page_services.rotate_key(project=membership.project, kind=kind)
    except page_services.SettingsInvalid as exc:
        messages.error(request, "; ".join(exc.errors.values()))
    else:
        messages.success(
            request,
            f"A new {label} was made. The old one stops working now: update your "
            "servers and pages that use it.",
        )
    return redirect("/settings/#keys")
