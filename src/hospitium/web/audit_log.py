"""What the /audit/ page reads: the hospital's audit log, and the ids of every record of one
patient so that "what happened to this patient" finds the events of their visits, admissions
and invoices too.

Audit events name the record they touched (``object_id``), not the patient it belongs to, so a
patient's events are found through the ids of the patient's records, gathered here with one
query per kind of record (the count does not grow with the data). Events of a record that was
since deleted (a draft invoice line, a removed feedback) are no longer tied to the patient.
"""

from __future__ import annotations

from django.db import models

from hospitium.admissions.models import Admission
from hospitium.billing.models import Invoice, InvoiceLine, Payment
from hospitium.campaigns.models import Participation
from hospitium.encounters.models import Diagnosis, Treatment, Visit
from hospitium.feedback.models import Feedback
from hospitium.patients.models import Patient
from hospitium.scheduling.models import Appointment


def patient_by_mrn(mrn: str) -> Patient | None:
    """The patient with this medical record number, or None."""
    return Patient._base_manager.filter(mrn=mrn.strip()).first()


def patient_record_ids(patient: Patient) -> list[str]:
    """The ids (as the audit log keeps them) of the patient and of every record of theirs."""
    ids = [str(patient.pk)]
    model: type[models.Model]
    # Each model's base manager: voided records too (their events are the patient's history).
    for model, path in (
        (Appointment, "patient"),
        (Visit, "patient"),
        (Diagnosis, "visit__patient"),
        (Treatment, "visit__patient"),
        (Feedback, "visit__patient"),
        (Admission, "patient"),
        (Invoice, "patient"),
        (InvoiceLine, "invoice__patient"),
        (Payment, "invoice__patient"),
        (Participation, "patient"),
    ):
        rows = model._base_manager.filter(**{path: patient}).values_list("pk", flat=True)
        ids.extend(str(pk) for pk in rows)
    return ids
