"""Django REST framework and the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from hospitium.settings.env import env_int, env_rate

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "hospitium.core.api.SessionAuthentication",
        "hospitium.core.api.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["hospitium.tenancy.permissions.IsHospitalMember"],
    "DEFAULT_FILTER_BACKENDS": [
        "hospitium.core.filters.FilterBackend",
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
    "DEFAULT_SCHEMA_CLASS": "hospitium.core.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "hospitium.core.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        # Only views that name a throttle_scope: the token and report generation.
        "rest_framework.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("HOSPITIUM_RATE_ANON", "120/minute"),
        "user": env_rate("HOSPITIUM_RATE_USER", "2000/minute"),
        # Per client address: every sign-in form (hospitium.core.throttling) and the token.
        "sign_in": env_rate("HOSPITIUM_RATE_SIGN_IN", "30/minute"),
        "token": env_rate("HOSPITIUM_RATE_TOKEN", "30/minute"),
        # Per user: asking for a report (of a hospital or the whole fleet) to be generated.
        "reports": env_rate("HOSPITIUM_RATE_REPORTS", "60/hour"),
    },
    # The client's address is REMOTE_ADDR unless this many proxies in front add theirs to
    # X-Forwarded-For. DRF's default (None) believes the header as sent, so a client could
    # name a new address on every request and never be limited.
    "NUM_PROXIES": env_int("HOSPITIUM_NUM_PROXIES", 0, minimum=0),
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
    # Request bodies get components of their own: read-only fields are not asked for, and a
    # text field that refuses blanks says so (minLength), as the serializers decide.
    "COMPONENT_SPLIT_REQUEST": True,
    # The API is a JSON API: DRF also reads form bodies (its test client, the browsable API),
    # which the document does not offer to clients.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # Hospital reports and fleet reports share one life cycle, so one enum.
    "ENUM_NAME_OVERRIDES": {"ReportStatusEnum": "hospitium.reports.models.GeneratedReport.Status"},
}
