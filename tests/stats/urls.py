"""The site's URLs plus the stats report pages (until journeys_site/urls.py mounts them)."""

from django.urls import include, path

from journeys_site.urls import urlpatterns as site_urlpatterns

urlpatterns = [*site_urlpatterns, path("", include("stats.page_urls"))]
