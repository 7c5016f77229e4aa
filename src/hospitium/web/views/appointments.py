"""Appointments: the day view per practitioner or department, booking (with the nearest free
slots when the wanted one is taken), and the status buttons.

Views parse input, call the scheduling services and selectors (the API's own), and render.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from hospitium.core.errors import Conflict, HospitiumError, NotFound
from hospitium.patients.models import Patient
from hospitium.patients.selectors import patient_get, patient_search
from hospitium.scheduling import services
from hospitium.scheduling.selectors import (
    appointment_day,
    appointment_free_slots,
    appointment_get,
)
from hospitium.scheduling.services import TRANSITIONS
from hospitium.staff.selectors import department_list, practitioner_get, practitioner_list
from hospitium.web.access import READ, WRITE, can, require
from hospitium.web.careforms import DATETIME_FORMAT, BookingForm, DayForm
from hospitium.web.pages import hospital_page, render_page

#: The status buttons: URL word → (service, the status it leads to, the button's label).
ACTIONS: dict[str, tuple[Any, str, str]] = {
    "arrive": (services.appointment_arrive, "arrived", "Arrived"),
    "fulfil": (services.appointment_fulfil, "fulfilled", "Fulfilled"),
    "cancel": (services.appointment_cancel, "cancelled", "Cancel"),
    "no-show": (services.appointment_no_show, "noshow", "No-show"),
}


def _day_context(request: HttpRequest) -> dict[str, Any]:
    practitioners = list(practitioner_list())
    departments = list(department_list())
    form = DayForm(request.GET or None, practitioners=practitioners, departments=departments)
    day = timezone.localdate()
    practitioner_id = department_id = ""
    if form.is_bound and form.is_valid():
        day = form.cleaned_data["day"] or day
        practitioner_id = form.cleaned_data["practitioner"]
        department_id = form.cleaned_data["department"]
    elif not form.is_bound:
        form = DayForm(initial={"day": day}, practitioners=practitioners, departments=departments)
    appointments = list(
        appointment_day(day, practitioner_id=practitioner_id, department_id=department_id)
        if not form.is_bound or form.is_valid()
        else []
    )
    can_write = can("appointments", WRITE)
    rows = [
        {
            "appointment": appointment,
            "actions": [
                (word, label)
                for word, (_service, status, label) in ACTIONS.items()
                if can_write and status in TRANSITIONS.get(appointment.status, ())
            ],
        }
        for appointment in appointments
    ]

    def link(on: dt.date) -> str:
        chosen = {"practitioner": practitioner_id, "department": department_id}
        return "/appointments/?" + urlencode(
            {"day": on.isoformat(), **{k: v for k, v in chosen.items() if v}}
        )

    return {
        "form": form,
        "day": day,
        "rows": rows,
        "back": link(day),
        "previous_day": link(day - dt.timedelta(days=1)),
        "next_day": link(day + dt.timedelta(days=1)),
        "can_book": can_write,
        "can_record_visit": can("visits", WRITE),
        "can_read_patients": can("patients", READ),
    }


@require_http_methods(["GET"])
@hospital_page
def appointment_list(request: HttpRequest) -> HttpResponse:
    """``/appointments/``: one day's appointments, of everyone, a practitioner or a department."""
    require("appointments", READ)
    context = _day_context(request)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "web/_appointment_day.html", context)
    return render_page(request, "web/appointment_list.html", context)


def _patients_for(form_data: Any) -> list[Patient]:
    """The patients the booking form offers: those the search finds, and the one chosen."""
    found: list[Patient] = []
    query = (form_data.get("patient_query") or "").strip()
    if query:
        found = list(patient_search(query, limit=10))
    chosen = (form_data.get("patient") or "").strip()
    if chosen and all(str(p.pk) != chosen for p in found):
        with contextlib.suppress(NotFound):
            found.insert(0, patient_get(chosen))
    return found


@require_http_methods(["GET", "POST"])
@hospital_page
def appointment_book(request: HttpRequest) -> HttpResponse:
    """``/appointments/new/``: book; a taken slot shows the clash and the nearest free ones.

    Without JavaScript the "Find" button sends the form by GET to search for the patient; with
    htmx the choices follow the search field as one types."""
    require("appointments", WRITE)
    practitioners = list(practitioner_list())
    data = request.POST if request.method == "POST" else request.GET
    patients = _patients_for(data)
    if request.htmx and request.method == "GET":  # type: ignore[attr-defined]
        form = BookingForm(initial=data, patients=patients, practitioners=practitioners)
        return render(request, "web/_patient_choices.html", {"form": form})
    conflict: dict[str, Any] | None = None
    if request.method == "POST":
        form = BookingForm(data, patients=patients, practitioners=practitioners)
        if form.is_valid():
            fields = dict(form.cleaned_data)  # show_refusal takes refused fields out of it
            try:
                patient = patient_get(fields["patient"])
                practitioner = practitioner_get(fields["practitioner"])
                appointment = services.appointment_book(
                    patient=patient,
                    practitioner=practitioner,
                    starts_at=fields["starts_at"],
                    ends_at=fields["ends_at"],
                    reason=fields["reason"],
                )
            except Conflict as exc:
                form.add_service_error(exc)
                conflict = {
                    "message": exc.message,
                    "slots": appointment_free_slots(
                        practitioner=practitioner,
                        starts_at=fields["starts_at"],
                        ends_at=fields["ends_at"],
                    ),
                    "patient": fields["patient"],
                    "practitioner": fields["practitioner"],
                    "reason": fields["reason"],
                    "patient_query": fields["patient_query"],
                }
            except HospitiumError as exc:
                form.add_service_error(exc)
            else:
                day = timezone.localtime(appointment.starts_at).date().isoformat()
                return redirect(f"/appointments/?day={day}&practitioner={practitioner.pk}")
    else:
        initial = {k: v for k, v in data.items() if k in BookingForm.base_fields}
        form = BookingForm(initial=initial, patients=patients, practitioners=practitioners)
    return render_page(
        request,
        "web/appointment_book.html",
        {"form": form, "conflict": conflict, "datetime_format": DATETIME_FORMAT},
    )


@require_POST
@hospital_page
def appointment_action(
    request: HttpRequest, appointment_id: uuid.UUID, action: str
) -> HttpResponse:
    """Arrive, fulfil, cancel, no-show: a POST form per button; back to the day view, or the
    day view with the refusal on top when the service says no."""
    require("appointments", WRITE)
    if action not in ACTIONS:
        raise NotFound(_("No such action."))
    appointment = appointment_get(appointment_id)
    service = ACTIONS[action][0]
    back = request.POST.get("back", "")
    if not back.startswith("/appointments/"):
        back = f"/appointments/?day={timezone.localtime(appointment.starts_at).date()}"
    try:
        service(appointment=appointment)
    except HospitiumError as exc:
        request.GET = QueryDict(urlsplit(back).query)
        context = _day_context(request)
        context["refusal"] = exc.message
        return render_page(request, "web/appointment_list.html", context)
    return redirect(back)
