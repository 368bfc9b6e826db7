"""URL routes of the canvas builder page (mounted at the site root: /journeys/<id>/)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
