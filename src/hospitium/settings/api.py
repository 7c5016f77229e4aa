"""Django REST framework and the OpenAPI schema."""

from __future__ import annotations

from typing import Any

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "hospitium.core.api.SessionAuthentication",
        "hospitium.core.api.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["hospitium.tenancy.permissions.IsHospitalMember"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    # JSON bodies nested absurdly deep are refused as malformed (400), never a RecursionError.
    "DEFAULT_PARSER_CLASSES": [
        "hospitium.core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "hospitium.core.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"anon": "120/minute", "user": "2000/minute"},
    # DRF would read ``?format=`` as a switch of the response's renderer, which takes the name
    # from filters that mean a report's file format (``/api/reports/generated/?format=pdf``
    # answered 404: no renderer called pdf). The representation is chosen by the Accept header.
    "URL_FORMAT_OVERRIDE": None,
}

SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "Hospitium API",
    "DESCRIPTION": (
        "One API for every hospital of the installation. Choose the hospital with its host name "
        "or the X-Hospital header; every error answers in one envelope."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Hospital reports and fleet reports share one life cycle, so one enum.
    "ENUM_NAME_OVERRIDES": {"ReportStatusEnum": "hospitium.reports.models.GeneratedReport.Status"},
}
