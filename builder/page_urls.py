"""URL routes of the marketer's pages: journey list, new journey, settings (site root)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
