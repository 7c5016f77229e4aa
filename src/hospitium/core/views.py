"""Error pages: JSON envelope for API clients, a friendly page with the request id for people.

Never a stack trace, SQL or a file path: the message comes from the error class or a fixed text.
"""

from __future__ import annotations

import sys

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from hospitium.core.api import envelope, request_too_large
from hospitium.core.context import current_request_id
from hospitium.core.errors import HospitiumError

_TITLES = {
    400: "Bad request",
    401: "Please sign in",
    403: "Not allowed",
    404: "Page not found",
    409: "Conflict",
    413: "Too large",
    422: "Not allowed",
    500: "Something went wrong",
    502: "A service we depend on failed",
    503: "Temporarily unavailable",
}


def wants_json(request: HttpRequest) -> bool:
    """API paths and clients that ask for JSON get the envelope."""
    if request.path.startswith("/api/"):
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def render_error(
    request: HttpRequest, *, status: int, code: str, message: str, category: str
) -> HttpResponse:
    """Render one error as JSON or HTML, depending on who asks."""
    if wants_json(request):
        body = envelope(code=code, message=message, category=category)
        return JsonResponse(body, status=status)
    html = render_to_string(
        "core/error.html",
        {
            "status": status,
            "title": _TITLES.get(status, "Error"),
            "message": message,
            "request_id": current_request_id(),
        },
    )
    return HttpResponse(html, status=status)


def render_hospitium_error(request: HttpRequest, exc: HospitiumError) -> HttpResponse:
    return render_error(
        request,
        status=exc.http_status,
        code=exc.code,
        message=exc.message,
        category=str(exc.category),
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # Django answers every SuspiciousOperation with this handler; a body over the size limit
    # is not a malformed request, and a client needs to know it can retry with a smaller one.
    if isinstance(exception, RequestDataTooBig):
        return render_hospitium_error(request, request_too_large())
    return render_error(
        request,
        status=400,
        code="bad_request",
        message="The request could not be understood.",
        category="validation",
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render_error(
        request,
        status=403,
        code="permission_denied",
        message="You do not have permission to do this.",
        category="permission",
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render_error(
        request, status=404, code="not_found", message="Not found.", category="not_found"
    )


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this inside its except block, so the error being handled is still visible:
    # a HospitiumError raised by middleware keeps its own status and safe message.
    exc = sys.exc_info()[1]
    if isinstance(exc, HospitiumError):
        return render_hospitium_error(request, exc)
    return render_error(
        request,
        status=500,
        code="internal_error",
        message="An unexpected error occurred. It has been logged.",
        category="system",
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render_error(
        request,
        status=403,
        code="csrf_failed",
        message="The form expired or was sent from another site. Reload the page and try again.",
        category="permission",
    )


def health(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. It touches no store."""
    return JsonResponse({"status": "ok"})


def locked_out(
    request: HttpRequest, credentials: object = None, *args: object, **kwargs: object
) -> HttpResponse:
    """django-axes' lockout answer, in our envelope or page."""
    return render_error(
        request,
        status=429,
        code="locked_out",
        message="Too many failed sign-in attempts. Try again later.",
        category="authentication",
    )
