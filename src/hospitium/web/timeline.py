"""A patient's timeline: appointments, visits (diagnoses, treatments), admissions, invoices,
payments and feedback, newest first, each part only when the role may read it.

One bounded query per part (two more for a visit's diagnoses and treatments), whatever the
length of the patient's history; each part shows its latest PER_PART rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from hospitium.admissions.selectors import admission_list
from hospitium.billing.selectors import invoice_list, payment_list
from hospitium.encounters.selectors import visit_list
from hospitium.feedback.selectors import feedback_list
from hospitium.patients.models import Patient
from hospitium.scheduling.selectors import appointment_list

PER_PART = 50

#: Timeline part → the resource of the role matrix it reads.
PARTS = {
    "appointments": "appointments",
    "visits": "visits",
    "admissions": "admissions",
    "invoices": "invoices",
    "payments": "payments",
    "feedback": "feedback",
}


@dataclass
class Entry:
    at: dt.datetime
    kind: str
    title: str
    status: str = ""
    lines: list[str] = field(default_factory=list)
    #: The entry's own page, when it has one.
    url: str = ""


def _appointments(patient: Patient) -> list[Entry]:
    rows = appointment_list().filter(patient=patient).order_by("-starts_at")[:PER_PART]
    return [
        Entry(
            a.starts_at,
            _("Appointment"),
            _("With %(who)s") % {"who": a.practitioner.display_name},
            a.get_status_display(),
            [a.reason] if a.reason else [],
        )
        for a in rows
    ]


def _visits(patient: Patient) -> list[Entry]:
    rows = visit_list().filter(patient=patient).order_by("-started_at")[:PER_PART]
    entries = []
    for v in rows:
        lines: list[Any] = [v.chief_complaint] if v.chief_complaint else []
        for d in v.diagnoses.all():
            primary = _(" (primary)") if d.is_primary else ""
            lines.append(
                _("Diagnosis: %(code)s %(text)s") % {"code": d.code, "text": d.description}
                + primary
            )
        for t in v.treatments.all():
            outcome = f" — {t.get_outcome_display()}" if t.outcome else ""
            follow = (
                _(", follow-up on %(day)s") % {"day": t.follow_up_date}
                if t.follow_up_required and t.follow_up_date
                else ""
            )
            lines.append(_("Treatment: %(what)s") % {"what": t.procedure} + outcome + follow)
        entries.append(
            Entry(
                v.started_at,
                _("Visit (%(kind)s)") % {"kind": v.get_kind_display()},
                _("With %(who)s") % {"who": v.practitioner.display_name},
                _("open") if v.ended_at is None else _("closed"),
                lines,
                f"/visits/{v.pk}/",
            )
        )
    return entries


def _admissions(patient: Patient) -> list[Entry]:
    rows = admission_list().filter(patient=patient).order_by("-admitted_at")[:PER_PART]
    return [
        Entry(
            a.admitted_at,
            _("Admission"),
            f"{a.bed.room.ward.name} · {a.bed.room.number} · {a.bed.label}",
            _("in hospital")
            if a.discharged_at is None
            else _("discharged %(when)s") % {"when": a.discharged_at.date()},
            [a.reason] if a.reason else [],
        )
        for a in rows
    ]


def _invoices(patient: Patient) -> list[Entry]:
    rows = (invoice_list().prefetch_related(None).filter(patient=patient).order_by("-created_at"))[
        :PER_PART
    ]
    return [
        Entry(
            i.issued_at or i.created_at,
            _("Invoice"),
            i.number,
            i.get_status_display(),
            [
                _("Total %(total)s %(cur)s, paid %(paid)s, balance %(balance)s")
                % {
                    "total": getattr(i, "total", ""),
                    "paid": getattr(i, "paid", ""),
                    "balance": getattr(i, "balance", ""),
                    "cur": i.currency,
                }
            ],
        )
        for i in rows
    ]


def _payments(patient: Patient) -> list[Entry]:
    rows = payment_list().filter(invoice__patient=patient)[:PER_PART]
    return [
        Entry(
            p.paid_at,
            _("Payment"),
            f"{p.amount} {p.invoice.currency}",
            p.get_method_display(),
            [_("For invoice %(number)s") % {"number": p.invoice.number}],
        )
        for p in rows
    ]


def _feedback(patient: Patient) -> list[Entry]:
    rows = feedback_list().filter(visit__patient=patient)[:PER_PART]
    return [
        Entry(
            f.submitted_at,
            _("Feedback"),
            _("%(rating)s of 5") % {"rating": f.rating},
            "",
            [f.comment] if f.comment else [],
        )
        for f in rows
    ]


_READERS = {
    "appointments": _appointments,
    "visits": _visits,
    "admissions": _admissions,
    "invoices": _invoices,
    "payments": _payments,
    "feedback": _feedback,
}


def patient_timeline(patient: Patient, *, parts: set[str]) -> list[Entry]:
    """The patient's history from the ``parts`` named, newest first."""
    entries: list[Entry] = []
    for part in PARTS:
        if part in parts:
            entries.extend(_READERS[part](patient))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries
