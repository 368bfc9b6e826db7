"""URL routes of the stats API (mounted under /api/v1/)."""

from django.urls import path

from stats import api

urlpatterns = [
    path(
        "journeys/<int:journey_id>/occupancy",
        api.OccupancyView.as_view(),
        name="journey-occupancy",
    ),
    path("journeys/<int:journey_id>/stats", api.StatsView.as_view(), name="journey-stats"),
    path(
        "journeys/<int:journey_id>/messages",
        api.MessagesView.as_view(),
        name="journey-messages",
    ),
    path("journeys/<int:journey_id>/summary", api.SummaryView.as_view(), name="journey-summary"),
    path("journeys/<int:journey_id>/series", api.SeriesView.as_view(), name="journey-series"),
    path("journeys/<int:journey_id>/stuck", api.StuckView.as_view(), name="journey-stuck"),
    path(
        "profiles/<path:profile_id>/timeline",
        api.TimelineView.as_view(),
        name="profile-timeline",
    ),
]
