"""URL routes of the report pages (mounted at the site root: /journeys/<id>/blocks/...)."""

from django.urls import path

from stats import pages

urlpatterns = [
    path("journeys/<int:journey_id>/report", pages.journey_report, name="stats-journey-report"),
    path(
        "journeys/<int:journey_id>/blocks/<str:node>/segment",
        pages.segment_details,
        name="stats-segment-details",
    ),
    path(
        "journeys/<int:journey_id>/blocks/<str:node>/campaign",
        pages.campaign_details,
        name="stats-campaign-details",
    ),
]
