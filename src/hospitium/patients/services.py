"""Writes to patients."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError

from hospitium.accounts.models import User
from hospitium.core.db import atomic_service
from hospitium.core.errors import Conflict, ValidationFailed
from hospitium.patients.models import Patient
from hospitium.tenancy.router import current_alias


def _hospital_write_alias() -> str:
    return current_alias(write=True)


@atomic_service(_hospital_write_alias)
def patient_register(
    *,
    mrn: str,
    given_name: str,
    family_name: str,
    birth_date: dt.date,
    sex: str = Patient.Sex.UNKNOWN,
    registered_by: User | None = None,
) -> Patient:
    """Register a patient in the current hospital.

    Raises ValidationFailed for bad input and Conflict for a medical record number in use.
    """
    errors: dict[str, list[str]] = {}
    mrn = mrn.strip()
    if not mrn:
        errors["mrn"] = ["A medical record number is required."]
    if not given_name.strip():
        errors["given_name"] = ["Required."]
    if not family_name.strip():
        errors["family_name"] = ["Required."]
    if sex not in Patient.Sex.values:
        errors["sex"] = [f"Choose one of {', '.join(Patient.Sex.values)}."]
    if birth_date > dt.date.today():
        errors["birth_date"] = ["A birth date cannot be in the future."]
    if errors:
        raise ValidationFailed(fields=errors)
    if Patient.objects.filter(mrn=mrn).exists():
        raise Conflict(
            f"Medical record number {mrn} is already in use.",
            fields={"mrn": ["Already in use in this hospital."]},
        )
    fields: dict[str, Any] = {
        "mrn": mrn,
        "given_name": given_name.strip(),
        "family_name": family_name.strip(),
        "birth_date": birth_date,
        "sex": sex,
        "registered_by": registered_by,
    }
    try:
        return Patient.objects.create(**fields)
    except IntegrityError as exc:  # a concurrent registration took the number first
        raise Conflict(f"Medical record number {mrn} is already in use.") from exc
