"""Forms of the appointment and visit pages. Fields are labelled; a service's refusal lands
beside the field it names (``add_service_error``), so a rule reads the same here as in the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from hospitium.encounters.models import Treatment, Visit
from hospitium.web.forms import AccessibleForm

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def _when(label: Any, **kwargs: Any) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT),
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        **kwargs,
    )


def _day(label: Any, **kwargs: Any) -> forms.DateField:
    return forms.DateField(
        label=label,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        **kwargs,
    )


class _Choosing:
    fields: dict[str, forms.Field]

    def choose(self, name: str, choices: Any) -> None:
        """Set the choices of a choice field (made per request: search results, the
        hospital's practitioners)."""
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices


class CareForm(_Choosing, AccessibleForm):
    """A care page's form: the web's accessible form whose choices are set per request."""


class DayForm(_Choosing, forms.Form):
    """The day view's filter (GET); every field optional."""

    day = _day(_("Day"), required=False)
    practitioner = forms.ChoiceField(label=_("Practitioner"), required=False)
    department = forms.ChoiceField(label=_("Department"), required=False)

    def __init__(self, *args: Any, practitioners: Any, departments: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        everyone = [("", _("Everyone"))]
        self.choose("practitioner", everyone + [(str(p.pk), p.display_name) for p in practitioners])
        self.choose(
            "department", [("", _("All departments"))] + [(str(d.pk), d.name) for d in departments]
        )


class BookingForm(CareForm):
    patient_query = forms.CharField(
        label=_("Find the patient"),
        help_text=_("Name, MRN or date of birth; then choose below."),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "autocomplete": "off",
                "hx-get": "/appointments/new/",
                "hx-trigger": "input changed delay:300ms, search",
                "hx-target": "#patient-choices",
            }
        ),
    )
    patient = forms.ChoiceField(label=_("Patient"), widget=forms.RadioSelect, choices=[])
    practitioner = forms.ChoiceField(label=_("Practitioner"), choices=[])
    starts_at = _when(_("Starts"))
    ends_at = _when(_("Ends"))
    reason = forms.CharField(label=_("Reason"), required=False, max_length=200)

    def __init__(
        self, *args: Any, patients: Any = (), practitioners: Any = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.choose(
            "patient",
            [
                (str(p.pk), f"{p.family_name}, {p.given_name} · {p.mrn} · {p.birth_date:%Y-%m-%d}")
                for p in patients
            ],
        )
        self.choose(
            "practitioner",
            [("", _("Choose…"))]
            + [(str(p.pk), f"{p.display_name} ({p.department.name})") for p in practitioners],
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("starts_at"), data.get("ends_at")
        if isinstance(start, dt.datetime) and isinstance(end, dt.datetime) and end <= start:
            self.add_error("ends_at", _("Must be after the start."))
        return data


class VisitForm(CareForm):
    kind = forms.ChoiceField(
        label=_("Kind of visit"), choices=Visit.Kind.choices, widget=forms.RadioSelect
    )
    practitioner = forms.ChoiceField(label=_("Practitioner"), choices=[])
    started_at = _when(_("Started"))
    chief_complaint = forms.CharField(
        label=_("Chief complaint"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, practitioners: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.choose(
            "practitioner",
            [("", _("Choose…"))]
            + [(str(p.pk), f"{p.display_name} ({p.department.name})") for p in practitioners],
        )


class DiagnosisForm(CareForm):
    prefix = "diagnosis"
    icd_query = forms.CharField(
        label=_("Find an ICD-10 diagnosis"),
        help_text=_("A code (J45) or words of its title (type 2 diabetes); then choose below."),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "autocomplete": "off",
                "hx-get": "/visits/icd10/",
                "hx-trigger": "input changed delay:300ms, search",
                "hx-target": "#icd10-choices",
            }
        ),
    )
    code = forms.ChoiceField(label=_("Diagnosis"), widget=forms.RadioSelect, choices=[])
    is_primary = forms.BooleanField(label=_("Primary diagnosis"), required=False)

    def __init__(self, *args: Any, entries: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.choose("code", [(e.code, f"{e.code} — {e.title}") for e in entries])


class TreatmentForm(CareForm):
    prefix = "treatment"
    procedure = forms.CharField(label=_("Procedure"), max_length=200)
    performed_on = _day(_("Performed on"), required=False)
    outcome = forms.ChoiceField(
        label=_("Outcome"), required=False, choices=[("", _("Not known yet"))]
    )
    follow_up_required = forms.BooleanField(label=_("Follow-up required"), required=False)
    follow_up_date = _day(_("Follow-up on"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.choose("outcome", [("", _("Not known yet")), *Treatment.Outcome.choices])
