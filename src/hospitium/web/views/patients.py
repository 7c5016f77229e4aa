"""Patients: search as you type, the patient's page with their timeline, register, edit, void.

Views parse input, call the patients' services and selectors (the API's own), and render.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from hospitium.core.errors import ValidationFailed
from hospitium.patients.selectors import (
    MIN_TERM,
    patient_get,
    patient_likely_duplicates,
    patient_read,
    patient_recent,
    patient_search,
)
from hospitium.patients.services import patient_register, patient_update, patient_void
from hospitium.web.access import READ, WRITE, can, require
from hospitium.web.forms import PatientEditForm, PatientForm, VoidForm
from hospitium.web.pages import hospital_page, render_page
from hospitium.web.timeline import PARTS, patient_timeline

#: Patients a search shows; past it, the page asks for more letters.
SHOWN = 25


@require_http_methods(["GET"])
@hospital_page
def patient_list(request: HttpRequest) -> HttpResponse:
    require("patients", READ)
    query = request.GET.get("q", "").strip()
    results = patient_search(query, limit=SHOWN + 1) if query else patient_recent(limit=SHOWN)
    context = {
        "query": query,
        "patients": results[:SHOWN],
        "more": len(results) > SHOWN,
        "min_term": MIN_TERM,
        "can_register": can("patients", WRITE),
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "web/_patient_results.html", context)
    return render_page(request, "web/patient_list.html", context)


@require_http_methods(["GET"])
@hospital_page
def patient_detail(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    require("patients", READ)
    patient = patient_read(patient_id)
    parts = {part for part, resource in PARTS.items() if can(resource, READ)}
    return render_page(
        request,
        "web/patient_detail.html",
        {
            "patient": patient,
            "timeline": patient_timeline(patient, parts=parts),
            "can_write": can("patients", WRITE),
            "can_book": can("appointments", WRITE),
            "can_record_visit": can("visits", WRITE),
        },
    )


@require_http_methods(["GET", "POST"])
@hospital_page
def patient_create(request: HttpRequest) -> HttpResponse:
    require("patients", WRITE)
    form = PatientForm(request.POST if request.method == "POST" else None)
    duplicates = []
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        if not request.POST.get("confirm_new"):
            duplicates = patient_likely_duplicates(
                given_name=fields["given_name"],
                family_name=fields["family_name"],
                birth_date=fields["birth_date"],
            )
        if not duplicates:
            try:
                patient = patient_register(registered_by=request.user, **fields)  # type: ignore[arg-type]
            except ValidationFailed as exc:
                form.add_service_error(exc)
            else:
                messages.success(
                    request,
                    _("%(name)s is registered with medical record number %(mrn)s.")
                    % {"name": f"{patient.given_name} {patient.family_name}", "mrn": patient.mrn},
                )
                return redirect(f"/patients/{patient.pk}/")
    return render_page(
        request, "web/patient_form.html", {"form": form, "duplicates": duplicates, "patient": None}
    )


@require_http_methods(["GET", "POST"])
@hospital_page
def patient_edit(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    require("patients", WRITE)
    patient = patient_get(patient_id)
    if request.method == "POST":
        form = PatientEditForm(request.POST)
        if form.is_valid():
            try:
                patient_update(patient=patient, **form.service_fields())
            except ValidationFailed as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("The patient's details are saved."))
                return redirect(f"/patients/{patient.pk}/")
    else:
        form = PatientEditForm.for_patient(patient)
    return render_page(
        request, "web/patient_form.html", {"form": form, "duplicates": [], "patient": patient}
    )


@require_http_methods(["GET", "POST"])
@hospital_page
def patient_void_view(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    require("patients", WRITE)
    patient = patient_get(patient_id)
    form = VoidForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            patient_void(patient=patient, reason=form.cleaned_data["reason"])
        except ValidationFailed as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                _("The registration of %(name)s (%(mrn)s) is void.")
                % {"name": f"{patient.given_name} {patient.family_name}", "mrn": patient.mrn},
            )
            return redirect("/patients/")
    return render_page(request, "web/patient_void.html", {"form": form, "patient": patient})
