"""URL routes of the canvas builder page (mounted at the site root: /journeys/<id>/)."""

from django.urls import URLPattern, path

from builder import canvas

urlpatterns: list[URLPattern] = [
    path("journeys/<int:journey_id>/", canvas.journey_canvas, name="journey-canvas"),
]
