"""Reads of patients, always in the current hospital's store."""

from __future__ import annotations

from django.db.models import QuerySet

from hospitium.patients.models import Patient


def patient_list() -> QuerySet[Patient]:
    return Patient.objects.all()
