"""Site URL map: admin, API v1, OpenAPI schema and docs, health."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from engine.api.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI from our static files (drf-spectacular-sidecar), its start script served
    # as a file too: nothing from a CDN, no inline script (the CSP refuses those).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("engine.urls")),
    path("api/v1/", include("builder.urls")),
    path("api/v1/", include("stats.urls")),
    path("api/v1/", include("accounts.urls")),
    path("", include("engine.engagement_urls")),
    path("", include("builder.page_urls")),
    path("", include("builder.canvas_urls")),
    path("", include("stats.page_urls")),
    path("", include("accounts.page_urls")),
]

# API clients get JSON for a URL that matches no route, like every other API answer.
handler404 = "journeys_site.errors.page_not_found"
