"""URL routes of the marketer's journey API (mounted under /api/v1/)."""

from django.urls import path

from builder import api, canvas_api

urlpatterns = [
    path("journeys", api.JourneyListView.as_view(), name="journeys"),
    path("journeys/import", api.JourneyImportView.as_view(), name="journey-import"),
    path("journeys/<int:journey_id>", api.JourneyDetailView.as_view(), name="journey-detail"),
    path(
        "journeys/<int:journey_id>/publish",
        api.JourneyPublishView.as_view(),
        name="journey-publish",
    ),
    path("journeys/<int:journey_id>/pause", api.JourneyPauseView.as_view(), name="journey-pause"),
    path(
        "journeys/<int:journey_id>/resume", api.JourneyResumeView.as_view(), name="journey-resume"
    ),
    path("journeys/<int:journey_id>/stop", api.JourneyStopView.as_view(), name="journey-stop"),
    path(
        "journeys/<int:journey_id>/preview",
        api.JourneyPreviewView.as_view(),
        name="journey-preview",
    ),
    path(
        "journeys/<int:journey_id>/versions",
        api.JourneyVersionsView.as_view(),
        name="journey-versions",
    ),
    path(
        "journeys/<int:journey_id>/versions/<int:number>",
        api.JourneyVersionDetailView.as_view(),
        name="journey-version-detail",
    ),
    path(
        "journeys/<int:journey_id>/export", api.JourneyExportView.as_view(), name="journey-export"
    ),
    path(
        "journeys/<int:journey_id>/duplicate",
        api.JourneyDuplicateView.as_view(),
        name="journey-duplicate",
    ),
    path("blocks", api.BlockPaletteView.as_view(), name="block-palette"),
    path(
        "journeys/<int:journey_id>/render",
        canvas_api.JourneyRenderView.as_view(),
        name="journey-render",
    ),
    path(
        "projects/<int:project_id>/suggestions",
        canvas_api.ProjectSuggestionsView.as_view(),
        name="project-suggestions",
    ),
]
