"""``/admissions/``: the bed board per ward; admit, transfer and discharge through the
admissions services (their refusals shown beside the fields)."""

from __future__ import annotations

import itertools
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from hospitium.admissions.models import Bed
from hospitium.admissions.selectors import admission_get, bed_board, bed_list
from hospitium.admissions.services import (
    admission_admit,
    admission_discharge,
    admission_transfer,
)
from hospitium.core.errors import HospitiumError
from hospitium.web.access import WRITE, can, require
from hospitium.web.choosing import chosen_patient, matching_patients
from hospitium.web.forms import AccessibleForm, show_refusal
from hospitium.web.pages import hospital_page, render_page


def _bed_label(bed: Bed) -> str:
    return f"{bed.room.ward.name} · {bed.room.number} · {bed.label}"


class BedChoiceField(forms.ModelChoiceField):
    """Every bed, its state in its label: a taken bed stays choosable so that the service, not
    the form, says why it is refused (and a bed taken meanwhile gets the same message)."""

    def label_from_instance(self, obj: Bed) -> str:
        if not obj.is_active:
            return gettext("%(bed)s (out of use)") % {"bed": _bed_label(obj)}
        if getattr(obj, "occupied", False):
            return gettext("%(bed)s (occupied)") % {"bed": _bed_label(obj)}
        return gettext("%(bed)s (free)") % {"bed": _bed_label(obj)}


class AdmitForm(AccessibleForm):
    patient = forms.UUIDField(widget=forms.HiddenInput)
    bed = BedChoiceField(label=_("Bed"), queryset=Bed.objects.none(), empty_label=None)
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(BedChoiceField, self.fields["bed"]).queryset = bed_list()


class TransferForm(AccessibleForm):
    bed = BedChoiceField(label=_("New bed"), queryset=Bed.objects.none(), empty_label=None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(BedChoiceField, self.fields["bed"]).queryset = bed_list()


def _occupied(bed: Bed) -> bool:
    """Whether a bed of bed_board() has a stay now."""
    return getattr(bed, "stay_id", None) is not None


@hospital_page
def board(request: HttpRequest) -> HttpResponse:
    """The bed board: each ward's beds, free or occupied, by whom and since when."""
    require("admissions")
    beds = list(bed_board())
    wards = [
        (ward, list(group))
        for ward, group in itertools.groupby(beds, key=lambda bed: bed.room.ward)
    ]
    return render_page(
        request,
        "web/admissions_board.html",
        {
            "wards": wards,
            "free": sum(1 for bed in beds if not _occupied(bed) and bed.is_active),
            "occupied": sum(1 for bed in beds if _occupied(bed)),
            "can_admit": can("admissions", WRITE),
            "can_read_patients": can("patients"),
        },
    )


@hospital_page
@require_http_methods(["GET", "POST"])
def admit(request: HttpRequest) -> HttpResponse:
    """Admit a patient: find them by name or MRN, choose a free bed, admit."""
    require("admissions", WRITE)
    query = request.GET.get("q", "").strip()
    chosen = request.POST.get("patient") or request.GET.get("patient")
    patient = chosen_patient(chosen)
    if request.method == "POST":
        form = AdmitForm(request.POST)
        if patient is None:
            form.add_error(None, gettext("Choose the patient to admit."))
        elif form.is_valid():
            try:
                stay = admission_admit(
                    patient=patient,
                    bed=form.cleaned_data["bed"],
                    reason=form.cleaned_data["reason"],
                )
            except HospitiumError as exc:
                show_refusal(form, exc)
            else:
                messages.success(
                    request,
                    gettext("%(name)s is admitted to %(bed)s.")
                    % {
                        "name": f"{patient.given_name} {patient.family_name}",
                        "bed": _bed_label(stay.bed),
                    },
                )
                return redirect("/admissions/")
    else:
        initial = {"patient": patient.pk if patient else None, "bed": request.GET.get("bed")}
        form = AdmitForm(initial=initial)
    return render_page(
        request,
        "web/admissions_admit.html",
        {
            "form": form,
            "query": query,
            "results": matching_patients(query) if query and patient is None else None,
            "patient": patient,
            "bed_id": request.GET.get("bed", ""),
        },
    )


@hospital_page
def stay(request: HttpRequest, admission_id: str) -> HttpResponse:
    """One stay: the patient, bed and times, with transfer and discharge."""
    require("admissions")
    admission = admission_get(admission_id)
    return _stay_page(request, admission, TransferForm())


def _stay_page(request: HttpRequest, admission: Any, transfer_form: TransferForm) -> HttpResponse:
    return render_page(
        request,
        "web/admissions_stay.html",
        {
            "stay": admission,
            "bed_label": _bed_label(admission.bed),
            "transfer_form": transfer_form,
            "can_write": can("admissions", WRITE) and admission.discharged_at is None,
            "can_read_patients": can("patients"),
        },
    )


@hospital_page
@require_POST
def transfer(request: HttpRequest, admission_id: str) -> HttpResponse:
    require("admissions", WRITE)
    admission = admission_get(admission_id)
    form = TransferForm(request.POST)
    if form.is_valid():
        try:
            moved = admission_transfer(admission=admission, bed=form.cleaned_data["bed"])
        except HospitiumError as exc:
            show_refusal(form, exc)
        else:
            messages.success(
                request, gettext("Transferred to %(bed)s.") % {"bed": _bed_label(moved.bed)}
            )
            return redirect(f"/admissions/{moved.pk}/")
    return _stay_page(request, admission, form)


@hospital_page
@require_POST
def discharge(request: HttpRequest, admission_id: str) -> HttpResponse:
    require("admissions", WRITE)
    admission = admission_get(admission_id)
    try:
        admission_discharge(admission=admission)
    except HospitiumError as exc:
        form = TransferForm()
        form.add_error(None, exc.message)
        return _stay_page(request, admission, form)
    messages.success(
        request,
        gettext("%(name)s is discharged; %(bed)s is free.")
        % {
            "name": f"{admission.patient.given_name} {admission.patient.family_name}",
            "bed": _bed_label(admission.bed),
        },
    )
    return redirect("/admissions/")
