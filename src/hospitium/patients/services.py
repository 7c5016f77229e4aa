"""Writes to patients."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, connections
from django.db.models import ProtectedError

from hospitium.accounts.models import User
from hospitium.audit.services import audit_record
from hospitium.core.db import atomic_service
from hospitium.core.errors import BusinessRuleViolation, Conflict, ValidationFailed
from hospitium.core.voiding import record_void
from hospitium.patients.models import MrnSequence, Patient
from hospitium.tenancy.router import current_alias

EDITABLE = ("given_name", "family_name", "birth_date", "sex", "phone", "email", "address", "status")


def _hospital_write_alias() -> str:
    return current_alias(write=True)


def _validate(fields: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    for name in ("mrn", "given_name", "family_name"):
        if name in fields and not str(fields[name]).strip():
            errors[name] = ["Required."]
    if "sex" in fields and fields["sex"] not in Patient.Sex.values:
        errors["sex"] = [f"Choose one of {', '.join(Patient.Sex.values)}."]
    if "status" in fields and fields["status"] not in Patient.Status.values:
        errors["status"] = [f"Choose one of {', '.join(Patient.Status.values)}."]
    birth = fields.get("birth_date")
    if isinstance(birth, dt.date) and birth > dt.date.today():
        errors["birth_date"] = ["A birth date cannot be in the future."]
    if errors:
        raise ValidationFailed(fields=errors)


def _take_mrn() -> str:
    """The next number of the hospital's own sequence (MrnSequence), taken in the caller's
    transaction; a number already used (given by hand through the API) is passed over."""
    connection = connections[_hospital_write_alias()]
    table = connection.ops.quote_name(MrnSequence._meta.db_table)
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (id, prefix, digits, last_number) "  # noqa: S608 - names
                "VALUES (1, %s, %s, 1) "
                f"ON CONFLICT (id) DO UPDATE SET last_number = {table}.last_number + 1 "
                "RETURNING prefix, digits, last_number",
                [MrnSequence._meta.get_field("prefix").default, 6],
            )
            prefix, digits, number = cursor.fetchone()
        mrn = f"{prefix}{number:0{digits}d}"
        if not Patient.all_objects.filter(mrn=mrn).exists():
            return mrn


@atomic_service(_hospital_write_alias)
def patient_register(
    *,
    mrn: str | None = None,
    given_name: str,
    family_name: str,
    birth_date: dt.date,
    sex: str = Patient.Sex.UNKNOWN,
    phone: str = "",
    email: str = "",
    address: str = "",
    status: str = Patient.Status.ACTIVE,
    registered_by: User | None = None,
) -> Patient:
    """Register a patient in the current hospital. Without ``mrn``, the patient gets the next
    number of the hospital's own sequence and format.

    Raises ValidationFailed for bad input and Conflict for a medical record number in use.
    """
    fields: dict[str, Any] = {
        "mrn": mrn.strip() if mrn is not None else None,
        "given_name": given_name.strip(),
        "family_name": family_name.strip(),
        "birth_date": birth_date,
        "sex": sex,
        "phone": phone.strip(),
        "email": email.strip(),
        "address": address.strip(),
        "status": status,
    }
    _validate({k: v for k, v in fields.items() if v is not None})
    if fields["mrn"] is None:
        fields["mrn"] = _take_mrn()
    elif Patient.all_objects.filter(mrn=fields["mrn"]).exists():
        raise Conflict(
            f"Medical record number {fields['mrn']} is already in use.",
            fields={"mrn": ["Already in use in this hospital."]},
        )
    try:
        patient = Patient.objects.create(
            registered_by_id=registered_by.pk if registered_by else None, **fields
        )
    except IntegrityError as exc:  # a concurrent registration took the number first
        raise Conflict(f"Medical record number {fields['mrn']} is already in use.") from exc
    audit_record(action="create", object_type="patients", object_id=patient.pk)
    return patient


@atomic_service(_hospital_write_alias)
def patient_update(*, patient: Patient, **changes: Any) -> Patient:
    """Change a patient's details (not the medical record number). Raises ValidationFailed."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(
            "These fields cannot be changed here.", fields={k: ["Not editable."] for k in unknown}
        )
    _validate(changes)
    fresh = Patient.objects.select_for_update().get(pk=patient.pk)
    for name, value in changes.items():
        setattr(fresh, name, value.strip() if isinstance(value, str) else value)
    fresh.save(update_fields=[*changes, "updated_at"])
    audit_record(
        action="update",
        object_type="patients",
        object_id=fresh.pk,
        detail={"fields": sorted(changes)},
    )
    return fresh


@atomic_service(_hospital_write_alias)
def patient_delete(*, patient: Patient) -> None:
    """Delete a patient registered by mistake. A patient with any clinical history cannot be
    deleted: raises BusinessRuleViolation naming what blocks it."""
    try:
        Patient.objects.filter(pk=patient.pk).delete()
    except ProtectedError as exc:
        counts: dict[str, int] = {}
        for obj in exc.protected_objects:
            label = str(type(obj)._meta.verbose_name_plural)
            counts[label] = counts.get(label, 0) + 1
        held = ", ".join(f"{n} {label}" for label, n in sorted(counts.items()))
        raise BusinessRuleViolation(
            f"{patient} has a clinical history ({held}) and cannot be deleted; "
            "mark the patient inactive instead.",
        ) from exc
    audit_record(action="delete", object_type="patients", object_id=patient.pk)


def patient_void(*, patient: Patient, reason: str) -> Patient:
    """Void a registration made in error: it stays, with who, when and why, and disappears
    from lists and search. Raises ValidationFailed without a reason, BusinessRuleViolation when
    already voided."""
    return record_void(patient, reason=reason, object_type="patients")
