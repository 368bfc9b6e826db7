"""URL routes of the engine's API."""

from django.urls import path

from engine.api import channels, ingest, projects, subscriptions, web_push
from engine.api.limits import ProjectLimitsView

urlpatterns = [
    path("auth/token", projects.TokenView.as_view(), name="auth-token"),
    path("projects", projects.ProjectListView.as_view(), name="projects"),
    path("projects/<int:project_id>", projects.ProjectDetailView.as_view(), name="project-detail"),
    path(
        "projects/<int:project_id>/members",
        projects.ProjectMembersView.as_view(),
        name="project-members",
    ),
    path(
        "projects/<int:project_id>/keys/rotate",
        projects.ProjectKeyRotateView.as_view(),
        name="project-key-rotate",
    ),
    path(
        "projects/<int:project_id>/limits",
        ProjectLimitsView.as_view(),
        name="project-limits",
    ),
    path(
        "projects/<int:project_id>/channels",
        channels.ProjectChannelsView.as_view(),
        name="project-channels",
    ),
    path(
        "projects/<int:project_id>/channels/<str:channel>",
        channels.ProjectChannelView.as_view(),
        name="project-channel",
    ),
    path(
        "projects/<int:project_id>/channels/<str:channel>/test",
        channels.ProjectChannelTestView.as_view(),
        name="project-channel-test",
    ),
    path("events", ingest.EventsIngestView.as_view(), name="ingest-events"),
    path("profiles", ingest.ProfilesIngestView.as_view(), name="ingest-profiles"),
    path("identify", ingest.IdentifyView.as_view(), name="ingest-identify"),
    path(
        "profiles/<path:profile_id>/subscriptions",
        subscriptions.ProfileSubscriptionsView.as_view(),
        name="profile-subscriptions",
    ),
    path("web-push/key", web_push.WebPushKeyView.as_view(), name="web-push-key"),
    path(
        "web-push/subscriptions",
        web_push.WebPushSubscriptionsView.as_view(),
        name="web-push-subscriptions",
    ),
]
