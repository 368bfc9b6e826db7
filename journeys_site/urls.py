"""Site URL map: admin, API v1, OpenAPI schema and docs, health."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from engine.api.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Our own template: the viewer's script from our static files, no fonts from a CDN.
    path(
        "api/docs/",
        SpectacularRedocView.as_view(url_name="schema", template_name="api_docs/redoc.html"),
        name="api-docs",
    ),
    path("api/v1/", include("engine.urls")),
    path("api/v1/", include("builder.urls")),
    path("api/v1/", include("stats.urls")),
    path("api/v1/", include("accounts.urls")),
    path("", include("builder.page_urls")),
    path("", include("builder.canvas_urls")),
    path("", include("stats.page_urls")),
    path("", include("accounts.page_urls")),
]
