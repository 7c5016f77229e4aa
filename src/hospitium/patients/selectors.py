"""Reads of patients, always in the current hospital's store."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from hospitium.core.errors import NotFound
from hospitium.patients.models import Patient


def patient_list() -> QuerySet[Patient]:
    return Patient.objects.all()


def patient_get(patient_id: uuid.UUID | str) -> Patient:
    """The patient with this id in the current hospital; raises NotFound."""
    try:
        return Patient.objects.get(pk=patient_id)
    except (Patient.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such patient.") from None
