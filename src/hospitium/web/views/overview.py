"""The hospital's start page: the day's overview for the signed-in role."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from hospitium.web.access import can
from hospitium.web.overview import day_overview
from hospitium.web.pages import hospital_page, render_page

#: Overview section → the resource of the role matrix it reads.
SECTIONS = {
    "appointments": "appointments",
    "admissions": "admissions",
    "invoices": "invoices",
    "feedback": "feedback",
}


def start(request: HttpRequest) -> HttpResponse:
    """``/``: the overview on a hospital's host; the API's documentation on the platform's."""
    if getattr(request, "hospital", None) is None:
        return redirect("/api/docs/")
    return overview(request)


@hospital_page
def overview(request: HttpRequest) -> HttpResponse:
    sections = {name for name, resource in SECTIONS.items() if can(resource)}
    result = day_overview(sections=sections)
    result.shown = sorted(sections)
    return render_page(
        request,
        "web/overview.html",
        {"overview": result, "can_read_patients": can("patients")},
    )
