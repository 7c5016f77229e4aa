"""Error pages in the app's look (the API keeps its JSON envelope, from core.views)."""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from hospitium.core import views as core
from hospitium.core.errors import HospitiumError
from hospitium.web.pages import error_page


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if core.wants_json(request):
        return core.bad_request(request, exception)
    return error_page(request, status=400, message=_("The request could not be understood."))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if core.wants_json(request):
        return core.permission_denied(request, exception)
    return error_page(request, status=403, message=_("You do not have permission to do this."))


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if core.wants_json(request):
        return core.page_not_found(request, exception)
    return error_page(
        request, status=404, message=_("There is no such page, or it is not yours to see.")
    )


def server_error(request: HttpRequest) -> HttpResponse:
    if core.wants_json(request):
        return core.server_error(request)
    exc = sys.exc_info()[1]
    if isinstance(exc, HospitiumError):
        return error_page(request, status=exc.http_status, message=exc.message, plain=True)
    return error_page(
        request,
        status=500,
        message=_("An unexpected error occurred. It has been logged."),
        plain=True,
    )
