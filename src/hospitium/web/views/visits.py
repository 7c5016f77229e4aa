"""Visits: record a medical or dental visit from a patient or an appointment; the visit's page
with its diagnoses (ICD-10, found by code or words as one types) and treatments.

Views parse input, call the encounters' services and selectors (the API's own), and render.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from hospitium.core.errors import HospitiumError, ValidationFailed
from hospitium.encounters.models import Visit
from hospitium.encounters.selectors import icd10_search, visit_get
from hospitium.encounters.services import diagnosis_add, treatment_add, visit_record
from hospitium.patients.selectors import patient_get
from hospitium.scheduling.selectors import appointment_get
from hospitium.staff.selectors import practitioner_get, practitioner_list
from hospitium.web.access import READ, WRITE, can, require
from hospitium.web.careforms import DiagnosisForm, TreatmentForm, VisitForm
from hospitium.web.pages import hospital_page, render_page

ICD_QUERY = "diagnosis-icd_query"


@require_http_methods(["GET", "POST"])
@hospital_page
def visit_new(request: HttpRequest) -> HttpResponse:
    """``/visits/new/?patient=…`` or ``?appointment=…``: record a visit."""
    require("visits", WRITE)
    source = request.POST if request.method == "POST" else request.GET
    appointment = None
    if source.get("appointment"):
        appointment = appointment_get(source["appointment"])
        patient = appointment.patient
    elif source.get("patient"):
        patient = patient_get(source["patient"])
    else:
        raise ValidationFailed(_("Record a visit from a patient's page or an appointment."))
    practitioners = list(practitioner_list())
    if request.method == "POST":
        form = VisitForm(request.POST, practitioners=practitioners)
        if form.is_valid():
            fields = form.cleaned_data
            try:
                visit = visit_record(
                    patient=patient,
                    practitioner=practitioner_get(fields["practitioner"]),
                    kind=fields["kind"],
                    started_at=fields["started_at"],
                    chief_complaint=fields["chief_complaint"],
                )
            except HospitiumError as exc:
                form.add_service_error(exc)
            else:
                return redirect(f"/visits/{visit.pk}/")
    else:
        initial: dict[str, Any] = {
            "kind": Visit.Kind.MEDICAL,
            "started_at": timezone.localtime().replace(second=0, microsecond=0),
        }
        if appointment is not None:
            initial["practitioner"] = str(appointment.practitioner_id)
            initial["chief_complaint"] = appointment.reason
            if appointment.practitioner.kind == "dentist":
                initial["kind"] = Visit.Kind.DENTAL
        form = VisitForm(initial=initial, practitioners=practitioners)
    return render_page(
        request,
        "web/visit_new.html",
        {"form": form, "patient": patient, "appointment": appointment},
    )


def _visit_page(
    request: HttpRequest,
    visit: Visit,
    *,
    diagnosis_form: DiagnosisForm | None = None,
    treatment_form: TreatmentForm | None = None,
) -> HttpResponse:
    if diagnosis_form is None:
        query = request.GET.get(ICD_QUERY, "")
        diagnosis_form = DiagnosisForm(
            initial={"icd_query": query}, entries=icd10_search(query) if query else ()
        )
    return render_page(
        request,
        "web/visit_detail.html",
        {
            "visit": visit,
            "diagnosis_form": diagnosis_form,
            "treatment_form": treatment_form or TreatmentForm(),
            "can_add_diagnosis": can("diagnoses", WRITE) and visit.voided_at is None,
            "can_add_treatment": can("treatments", WRITE) and visit.voided_at is None,
            "can_read_patients": can("patients", READ),
        },
    )


@require_GET
@hospital_page
def visit_detail(request: HttpRequest, visit_id: uuid.UUID) -> HttpResponse:
    """``/visits/<id>/``: the visit, its diagnoses and treatments, and the forms to add them."""
    require("visits", READ)
    return _visit_page(request, visit_get(visit_id))


@require_POST
@hospital_page
def visit_diagnosis_add(request: HttpRequest, visit_id: uuid.UUID) -> HttpResponse:
    require("visits", READ)
    require("diagnoses", WRITE)
    visit = visit_get(visit_id)
    query = request.POST.get(ICD_QUERY, "")
    chosen = request.POST.get("diagnosis-code", "")
    entries = icd10_search(query) if query else []
    if chosen and all(e.code != chosen for e in entries):
        entries = [*icd10_search(chosen, limit=1), *entries]
    form = DiagnosisForm(request.POST, entries=entries)
    if form.is_valid():
        try:
            diagnosis_add(
                visit=visit,
                code=form.cleaned_data["code"],
                is_primary=form.cleaned_data["is_primary"],
            )
        except HospitiumError as exc:
            form.add_service_error(exc)
        else:
            return redirect(f"/visits/{visit.pk}/#diagnoses")
    return _visit_page(request, visit, diagnosis_form=form)


@require_POST
@hospital_page
def visit_treatment_add(request: HttpRequest, visit_id: uuid.UUID) -> HttpResponse:
    require("visits", READ)
    require("treatments", WRITE)
    visit = visit_get(visit_id)
    form = TreatmentForm(request.POST)
    if form.is_valid():
        try:
            treatment_add(visit=visit, **form.cleaned_data)
        except HospitiumError as exc:
            form.add_service_error(exc)
        else:
            return redirect(f"/visits/{visit.pk}/#treatments")
    return _visit_page(request, visit, treatment_form=form)


@require_GET
@hospital_page
def icd10_choices(request: HttpRequest) -> HttpResponse:
    """The ICD-10 choices for what was typed (htmx swaps them under the search field)."""
    require("diagnoses", READ)
    query = request.GET.get(ICD_QUERY, "") or request.GET.get("q", "")
    form = DiagnosisForm(initial={"icd_query": query}, entries=icd10_search(query))
    return render(request, "web/_icd10_choices.html", {"form": form, "query": query})
