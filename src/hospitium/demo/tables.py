"""The tables the generator writes, in foreign-key order, with the columns it sets."""

from __future__ import annotations

from dataclasses import dataclass

from hospitium.admissions.models import Admission, Bed, Room, Ward
from hospitium.audit.models import AuditEvent
from hospitium.billing.models import Invoice, InvoiceLine, Payment
from hospitium.campaigns.models import Campaign, Participation
from hospitium.demo.writer import DATE, DATETIME, ID, MONEY, PLAIN, Table
from hospitium.encounters.models import Diagnosis, Treatment, Visit
from hospitium.feedback.models import Feedback
from hospitium.patients.models import Patient
from hospitium.scheduling.models import Appointment
from hospitium.staff.models import Department, Practitioner

_STAMPS = (("id", ID), ("created_at", DATETIME), ("updated_at", DATETIME))


def _table(model: type, *columns: tuple[str, str]) -> Table:
    return Table(model, (*_STAMPS, *columns))


@dataclass
class Tables:
    department: Table
    practitioner: Table
    ward: Table
    room: Table
    bed: Table
    patient: Table
    campaign: Table
    appointment: Table
    visit: Table
    diagnosis: Table
    treatment: Table
    admission: Table
    # An issued invoice's lines go in before the invoice (the database accepts lines only on a
    # draft and issues only an invoice with lines; foreign keys are checked at commit).
    line: Table
    invoice: Table
    payment: Table
    feedback: Table
    participation: Table

    @classmethod
    def build(cls) -> Tables:
        return cls(
            department=_table(Department, ("name", PLAIN)),
            practitioner=_table(
                Practitioner,
                ("display_name", PLAIN),
                ("kind", PLAIN),
                ("specialty", PLAIN),
                ("department", ID),
                ("user", PLAIN),
            ),
            ward=_table(Ward, ("name", PLAIN)),
            room=_table(Room, ("ward", ID), ("number", PLAIN)),
            bed=_table(Bed, ("room", ID), ("label", PLAIN), ("is_active", PLAIN)),
            patient=_table(
                Patient,
                ("mrn", PLAIN),
                ("given_name", PLAIN),
                ("family_name", PLAIN),
                ("birth_date", DATE),
                ("sex", PLAIN),
                ("phone", PLAIN),
                ("email", PLAIN),
                ("address", PLAIN),
                ("status", PLAIN),
                ("registered_by", PLAIN),
            ),
            campaign=_table(
                Campaign,
                ("name", PLAIN),
                ("kind", PLAIN),
                ("starts_on", DATE),
                ("ends_on", DATE),
                ("target", PLAIN),
            ),
            appointment=_table(
                Appointment,
                ("patient", ID),
                ("practitioner", ID),
                ("starts_at", DATETIME),
                ("ends_at", DATETIME),
                ("status", PLAIN),
                ("reason", PLAIN),
            ),
            visit=_table(
                Visit,
                ("patient", ID),
                ("practitioner", ID),
                ("kind", PLAIN),
                ("started_at", DATETIME),
                ("ended_at", DATETIME),
                ("chief_complaint", PLAIN),
            ),
            diagnosis=_table(
                Diagnosis,
                ("visit", ID),
                ("code", PLAIN),
                ("description", PLAIN),
                ("is_primary", PLAIN),
            ),
            treatment=_table(
                Treatment,
                ("visit", ID),
                ("procedure", PLAIN),
                ("performed_on", DATE),
                ("outcome", PLAIN),
                ("follow_up_required", PLAIN),
                ("follow_up_date", DATE),
                ("follow_up_kept_on", DATE),
            ),
            admission=_table(
                Admission,
                ("patient", ID),
                ("bed", ID),
                ("admitted_at", DATETIME),
                ("discharged_at", DATETIME),
                ("reason", PLAIN),
            ),
            invoice=_table(
                Invoice,
                ("number", PLAIN),
                ("patient", ID),
                ("visit", ID),
                ("admission", ID),
                ("status", PLAIN),
                ("issued_at", DATETIME),
                ("currency", PLAIN),
            ),
            line=_table(
                InvoiceLine,
                ("invoice", ID),
                ("description", PLAIN),
                ("quantity", PLAIN),
                ("unit_price", MONEY),
            ),
            payment=_table(
                Payment,
                ("invoice", ID),
                ("amount", MONEY),
                ("paid_at", DATETIME),
                ("method", PLAIN),
            ),
            feedback=_table(
                Feedback,
                ("visit", ID),
                ("rating", PLAIN),
                ("comment", PLAIN),
                ("submitted_at", DATETIME),
                ("response", PLAIN),
                ("responded_at", DATETIME),
            ),
            participation=_table(
                Participation,
                ("campaign", ID),
                ("patient", ID),
                ("joined_at", DATETIME),
                ("outcome", PLAIN),
            ),
        )

    def ordered(self) -> list[Table]:
        return list(vars(self).values())


AUDIT_MODEL = AuditEvent
