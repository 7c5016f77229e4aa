"""Forms of the web interface. Each field is labelled; an invalid field points at its error
message (``aria-describedby``) so a screen reader reads it with the field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from hospitium.core.errors import HospitiumError, ValidationFailed
from hospitium.patients.models import Patient


class AccessibleForm(forms.Form):
    def full_clean(self) -> None:
        super().full_clean()
        self._describe_errors()

    def _describe_errors(self) -> None:
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                ids = [f"{self[name].auto_id}_error"]
                if self.fields[name].help_text:
                    ids.append(f"{self[name].auto_id}_helptext")
                widget.attrs["aria-describedby"] = " ".join(ids)

    def add_service_error(self, exc: HospitiumError) -> None:
        """Show a service's refusal: each field's message beside the field, the rest on top,
        so a rule has the same words in the browser as in the API."""
        placed = False
        for name, messages in exc.fields.items():
            target = name if name in self.fields else None
            for message in messages:
                self.add_error(target, message)
                placed = True
        if not placed:
            self.add_error(None, exc.message)
        self._describe_errors()


class PatientForm(AccessibleForm):
    given_name = forms.CharField(label=_("Given name"), max_length=100)
    family_name = forms.CharField(label=_("Family name"), max_length=100)
    birth_date = forms.DateField(
        label=_("Date of birth"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y"],
    )
    sex = forms.ChoiceField(label=_("Sex"), choices=Patient.Sex.choices, initial="unknown")
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    address = forms.CharField(
        label=_("Address"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def service_fields(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class PatientEditForm(PatientForm):
    status = forms.ChoiceField(label=_("Status"), choices=Patient.Status.choices)

    @classmethod
    def for_patient(cls, patient: Patient) -> PatientEditForm:
        return cls(initial={name: getattr(patient, name) for name in cls.base_fields})


class VoidForm(AccessibleForm):
    reason = forms.CharField(
        label=_("Why is this registration void?"),
        help_text=_("For example: registered twice, or the wrong person."),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def show_refusal(form: AccessibleForm, exc: HospitiumError) -> None:
    """``form.add_service_error``, and a refused rule's own sentence on top as well: for an
    overpayment or an occupied bed the whole message ("… more than the balance of …") is the
    clearest words there are, the field's note only points at the field."""
    form.add_service_error(exc)
    if exc.fields and not isinstance(exc, ValidationFailed):
        form.add_error(None, exc.message)
