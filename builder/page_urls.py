"""URL routes of the marketer's pages: sign-in, journey list, new journey, profiles, settings (site root)."""

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, path

from builder import channel_pages, pages
from builder.limits_page import project_limits

urlpatterns: list[URLPattern] = [
    path("", pages.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/done/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("projects/switch", pages.project_switch, name="project-switch"),
    path("journeys/", pages.journey_list, name="journey-list"),
    path("journeys/new", pages.journey_new, name="journey-new"),
    path("journeys/import", pages.journey_import, name="journey-import"),
    path("journeys/<int:journey_id>/duplicate", pages.journey_duplicate, name="journey-duplicate"),
    path("journeys/<int:journey_id>/delete", pages.journey_delete, name="journey-delete"),
    path("journeys/<int:journey_id>/export", pages.journey_export, name="journey-export"),
    path("profiles/", pages.profile_list, name="profile-list"),
    path("profiles/<path:profile_id>/", pages.profile_detail, name="profile-detail"),
    path("settings/", pages.project_settings, name="project-settings"),
    path("settings/limits", project_limits, name="project-limits"),
    path("settings/rotate-key", pages.project_rotate_key, name="project-rotate-key"),
    path("settings/channels/<str:channel>", channel_pages.channel_save, name="channel-save"),
    path(
        "settings/channels/<str:channel>/clear",
        channel_pages.channel_clear,
        name="channel-clear",
    ),
    path("settings/channels/<str:channel>/test", channel_pages.channel_test, name="channel-test"),
]
