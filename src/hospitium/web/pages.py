"""Rendering a page: every page gets the hospital, the navigation the role may see and the
hospitals the user may switch to, from here (never worked out in a template)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from hospitium.accounts.models import Membership
from hospitium.core.context import current_request_id
from hospitium.core.errors import HospitiumError
from hospitium.tenancy.context import HospitalRef
from hospitium.web.access import current_hospital, nav_items, roles

View = TypeVar("View", bound=Callable[..., HttpResponse])


@dataclass(frozen=True)
class OtherHospital:
    code: str
    name: str
    url: str


def other_hospitals(request: HttpRequest, hospital: HospitalRef) -> list[OtherHospital]:
    """The user's other hospitals, each at its primary host (same scheme and port as now).

    One query. Sessions are per host, so the user signs in again on the other hospital's host.
    """
    user = request.user
    if not user.is_authenticated:
        return []
    rows = (
        Membership.objects.filter(user_id=user.pk, hospital__domains__is_primary=True)
        .exclude(hospital_id=hospital.id)
        .values_list("hospital__code", "hospital__name", "hospital__domains__host")
        .order_by("hospital__name")
        .distinct()
    )
    port = request.get_port()
    default = "443" if request.is_secure() else "80"
    suffix = "" if port == default else f":{port}"
    return [
        OtherHospital(code, name, f"{request.scheme}://{host}{suffix}/")
        for code, name, host in rows
    ]


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    plain: bool = False,
) -> HttpResponse:
    """Render ``template`` (which extends web/base.html) with what the base layout needs.

    ``plain`` leaves out what needs the database (navigation, other hospitals): for the 500 page.
    """
    hospital: HospitalRef | None = getattr(request, "hospital", None)
    signed_in = hospital is not None and request.user.is_authenticated and not plain
    if signed_in and not roles():
        # A signed-in non-member sees the 404 page: naming the hospital would tell them it exists.
        hospital, signed_in = None, False
    page = {
        "hospital": hospital,
        "nav": nav_items(request.path) if signed_in else [],
        "other_hospitals": other_hospitals(request, hospital) if signed_in and hospital else [],
        **(context or {}),
    }
    return render(request, template, page, status=status)


def hospital_page(view: View) -> View:
    """A page of the request's hospital: 404 on the platform's own hosts, the sign-in page for
    anonymous visitors. (Members only: the hospital middleware already answered 404 to a
    signed-in non-member.)"""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        current_hospital(request)
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), "/login/")
        try:
            return view(request, *args, **kwargs)
        except HospitiumError as exc:
            # Errors a view does not turn into form errors (a refused role, a missing record):
            # the error page with the error's own status and safe message.
            return error_page(request, status=exc.http_status, message=exc.message)

    return wrapper  # type: ignore[return-value]


def error_page(
    request: HttpRequest, *, status: int, message: str, plain: bool = False
) -> HttpResponse:
    """The error page in the app's look: a title, a safe message and the request id."""
    return render_page(
        request,
        "web/error.html",
        {
            "title": ERROR_TITLES.get(status, _("Error")),
            "message": message,
            "request_id": current_request_id(),
        },
        status=status,
        plain=plain,
    )


ERROR_TITLES = {
    400: _("Bad request"),
    403: _("Not allowed"),
    404: _("Page not found"),
    409: _("Conflict"),
    422: _("Not allowed"),
    429: _("Too many attempts"),
    500: _("Something went wrong"),
    503: _("Temporarily unavailable"),
}
