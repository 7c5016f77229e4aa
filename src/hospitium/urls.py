"""URLs: the web interface (hospital hosts), the platform admin, the API and its documentation."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny
from rest_framework.routers import DefaultRouter

from hospitium.accounts.api import ObtainTokenView
from hospitium.core.schema import SchemaView
from hospitium.core.views import health
from hospitium.tenancy.api import CurrentHospitalView

router = DefaultRouter()
# Each of our apps' api module lists its routes (platform apps first, then hospital apps, in
# settings order); the hospital ones need a hospital, the platform ones (fleet reports) do not.
for app in [*settings.PLATFORM_APPS, *settings.HOSPITAL_APPS]:
    if not app.startswith("hospitium."):
        continue
    try:
        module = import_module(f"{app}.api")
    except ModuleNotFoundError as exc:
        if exc.name != f"{app}.api":
            raise
        continue
    for prefix, viewset, basename in getattr(module, "ROUTES", []):
        router.register(prefix, viewset, basename=basename)

api_urls: list[URLPattern | URLResolver] = [
    path("hospital/", CurrentHospitalView.as_view(), name="current-hospital"),
    path("schema/", SchemaView.as_view(permission_classes=[AllowAny]), name="schema"),
    path(
        "docs/",
        # The split view serves Swagger UI's start script as a file, not inline, so the
        # Content-Security-Policy needs no inline script. GET only: its HTML renderer has no
        # page for OPTIONS' metadata (that answered 500).
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", permission_classes=[AllowAny], http_method_names=["get", "head"]
        ),
        name="docs",
    ),
    path("auth/token/", ObtainTokenView.as_view(), name="auth-token"),
    path("auth/", include("rest_framework.urls")),
    path("", include(router.urls)),
]

urlpatterns = [
    path("health/", health, name="health"),
    path("admin/", admin.site.urls),
    path("api/", include(api_urls)),
    path("", include("hospitium.web.urls")),
]

handler400 = "hospitium.web.views.errors.bad_request"
handler403 = "hospitium.web.views.errors.permission_denied"
handler404 = "hospitium.web.views.errors.page_not_found"
handler500 = "hospitium.web.views.errors.server_error"
