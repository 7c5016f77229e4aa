"""/audit/: the hospital's audit log for its admins, filtered by person, patient (their
visits, admissions, invoices and other records included), action and period; paged by event
id (newest first), so each page reads that page only."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from hospitium.accounts.selectors import member_list
from hospitium.audit.models import AuditEvent
from hospitium.audit.selectors import audit_event_search
from hospitium.web.access import READ, current_hospital, require
from hospitium.web.audit_log import patient_by_mrn, patient_record_ids
from hospitium.web.pages import hospital_page, render_page

PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    person = forms.TypedChoiceField(
        label=gettext_lazy("Person"), coerce=int, required=False, empty_value=None
    )
    patient = forms.CharField(
        label=gettext_lazy("Patient's medical record number"),
        max_length=32,
        required=False,
        help_text=gettext_lazy("Includes their appointments, visits, admissions and invoices."),
    )
    action = forms.ChoiceField(
        label=gettext_lazy("Action"),
        choices=[("", gettext_lazy("Any")), *AuditEvent.Action.choices],
        required=False,
    )
    start = forms.DateField(
        label=gettext_lazy("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    end = forms.DateField(
        label=gettext_lazy("Until (inclusive)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    before = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, people: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        person = self.fields["person"]
        assert isinstance(person, forms.ChoiceField)
        person.choices = [("", _("Anyone"))] + [(str(pk), label) for pk, label in people]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", _("The end of the period is before its start."))
        mrn = data.get("patient")
        if mrn:
            patient = patient_by_mrn(mrn)
            if patient is None:
                self.add_error("patient", _("No patient has this medical record number."))
            data["patient_obj"] = patient
        return data


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@require_GET
@hospital_page
def audit_log(request: HttpRequest) -> HttpResponse:
    require("audit-events", READ)
    hospital = current_hospital(request)
    people = [(m.id, m.email) for m in member_list(hospital_id=hospital.id)]
    form = AuditFilterForm(request.GET or None, people=people)
    events: list[AuditEvent] = []
    older: str | None = None
    if not request.GET or form.is_valid():
        data = form.cleaned_data if request.GET else {}
        patient = data.get("patient_obj")
        start, end = data.get("start"), data.get("end")
        before: uuid.UUID | None = data.get("before")
        rows = audit_event_search(
            actor_id=data.get("person"),
            action=data.get("action") or None,
            object_ids=patient_record_ids(patient) if patient is not None else None,
            since=_midnight(start) if start else None,
            until=_midnight(end + dt.timedelta(days=1)) if end else None,
            before=before,
        )
        events = list(rows[: PAGE_SIZE + 1])
        if len(events) > PAGE_SIZE:
            events = events[:PAGE_SIZE]
            query = {k: v for k, v in request.GET.items() if k != "before" and v}
            older = "?" + urlencode({**query, "before": str(events[-1].pk)})
    return render_page(
        request,
        "web/audit_log.html",
        {
            "form": form,
            "events": events,
            "older": older,
            "paged": bool(request.GET.get("before")),
        },
    )
