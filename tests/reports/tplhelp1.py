"""Fixture data for the core report templates: a small demo hospital plus hand-made rows on the
period's boundaries (in a non-UTC time zone) and voided rows that every figure must ignore."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from hospitium.demo.generator import demo_fill
from hospitium.encounters.models import Diagnosis, Treatment, Visit
from hospitium.feedback.models import Feedback
from hospitium.patients.models import Patient
from hospitium.reports.base import ReportData, ReportMeta, ReportTemplate
from hospitium.staff.models import Department
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital
from tests import factories

TZ = "America/New_York"
ZONE = ZoneInfo(TZ)
DATE_FROM = dt.date(2024, 9, 1)
DATE_TO = dt.date(2025, 2, 28)
TODAY = dt.date(2025, 6, 15)


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZONE)  # type: ignore[misc]


#: (local time, inside the period?)
BOUNDARIES = [
    (local(2024, 8, 31, 23, 59, 59), False),
    (local(2024, 9, 1, 0, 0, 0), True),
    (local(2025, 2, 28, 23, 59, 59), True),
    (local(2025, 3, 1, 0, 0, 0), False),
]


def in_period(value: dt.datetime | dt.date | None) -> bool:
    if value is None:
        return False
    if isinstance(value, dt.datetime):
        value = value.astimezone(ZONE).date()
    return DATE_FROM <= value <= DATE_TO


def local_date(value: dt.datetime) -> dt.date:
    return value.astimezone(ZONE).date()


def void(model: Any, pk: Any) -> None:
    model.all_objects.filter(pk=pk).update(voided_at=timezone.now(), void_reason="entered in error")


def fill(hospital: Hospital, *, seed: int = 7, patients: int = 40) -> dict[str, Any]:
    """Demo data plus boundary and voided rows; returns the hand-made department."""
    demo_fill(hospital=hospital, patients=patients, years=1, seed=seed, today=TODAY)
    with hospital_context(hospital):
        department = factories.department(name="Boundary care")
        doctor = factories.practitioner(department=department)
        made: dict[str, Any] = {"department": department}
        for n, (at, _inside) in enumerate(BOUNDARIES):
            patient = factories.patient(birth_date=dt.date(1952 + n * 20, 2, 28 + (n % 2)))
            Patient.objects.filter(pk=patient.pk).update(created_at=at)
            for kind in ("medical", "dental"):
                visit = Visit.objects.create(
                    patient=patient, practitioner=doctor, kind=kind, started_at=at
                )
                Diagnosis.objects.create(
                    visit=visit, code="J06.9", description="Acute URI", is_primary=True
                )
                Treatment.objects.create(
                    visit=visit,
                    procedure="Boundary procedure",
                    performed_on=local_date(at),
                    outcome="resolved" if n % 2 else "worsened",
                    follow_up_required=True,
                    follow_up_date=local_date(at) + dt.timedelta(days=1),
                    follow_up_kept_on=local_date(at) + dt.timedelta(days=1) if n else None,
                )
                Feedback.objects.create(
                    visit=visit,
                    rating=1 + n,
                    submitted_at=at,
                    responded_at=at + dt.timedelta(hours=3 + n, minutes=7),
                )
        # Voided rows inside the period: a voided visit (with its diagnosis, treatment and
        # feedback), and a voided treatment and diagnosis on a visit that stays.
        patient = factories.patient()
        at = local(2024, 11, 5, 10, 30)
        gone = Visit.objects.create(patient=patient, practitioner=doctor, started_at=at)
        Diagnosis.objects.create(visit=gone, code="Z99.9", description="Voided visit code")
        Treatment.objects.create(
            visit=gone,
            procedure="Voided visit procedure",
            performed_on=at.date(),
            outcome="resolved",
        )
        Feedback.objects.create(
            visit=gone, rating=5, submitted_at=at, responded_at=at + dt.timedelta(hours=900)
        )
        void(Visit, gone.pk)
        kept = Visit.objects.create(patient=patient, practitioner=doctor, started_at=at)
        diagnosis = Diagnosis.objects.create(visit=kept, code="Z99.8", description="Voided code")
        treatment = Treatment.objects.create(
            visit=kept, procedure="Voided procedure", performed_on=at.date(), outcome="improved"
        )
        void(Diagnosis, diagnosis.pk)
        void(Treatment, treatment.pk)
        made["voided_visit"] = gone.pk
    return made


def params(template: ReportTemplate, **extra: Any) -> dict[str, Any]:
    data = {"date_from": DATE_FROM.isoformat(), "date_to": DATE_TO.isoformat(), **extra}
    serializer = template.parameters(data=data)
    assert serializer.is_valid(), serializer.errors
    return dict(serializer.validated_data)


def build(template: ReportTemplate, hospital: Hospital, **extra: Any) -> ReportData:
    meta = ReportMeta(
        hospital_code=hospital.code,
        hospital_name=hospital.name,
        template_key=template.key,
        title=template.title,
        period_start=DATE_FROM,
        period_end=DATE_TO,
        filters=extra,
        generated_by="tests",
        generated_at=timezone.now(),
    )
    with hospital_context(hospital):
        return template.build(params(template, **extra), meta)


def figures(data: ReportData) -> dict[str, Any]:
    return {figure.key: figure.value for figure in data.figures}


def table(data: ReportData, key: str) -> list[list[Any]]:
    return [list(row) for found in data.tables if found.key == key for row in found.rows]


def series(data: ReportData, key: str) -> tuple[list[Any], dict[str, list[Any]]]:
    found = next(s for s in data.series if s.key == key)
    return list(found.x), {name: list(values) for name, values in found.y.items()}


def month_key(value: dt.datetime | dt.date) -> str:
    if isinstance(value, dt.datetime):
        value = local_date(value)
    return f"{value:%Y-%m}"


MONTHS = [
    f"{y}-{m:02d}" for y, m in [(2024, 9), (2024, 10), (2024, 11), (2024, 12), (2025, 1), (2025, 2)]
]


def departments() -> dict[Any, str]:
    return dict(Department.objects.values_list("id", "name"))
