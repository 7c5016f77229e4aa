"""Reads of visits, diagnoses and treatments, always in the current hospital's store.

Voided rows are left out (the models' default managers hide them).
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from hospitium.core.errors import NotFound
from hospitium.encounters.models import Diagnosis, Treatment, Visit


def visit_list() -> QuerySet[Visit]:
    """Visits with their patient, practitioner, diagnoses and treatments loaded."""
    return Visit.objects.select_related("patient", "practitioner").prefetch_related(
        "diagnoses", "treatments"
    )


def visit_get(visit_id: uuid.UUID | str) -> Visit:
    """The visit with this id in the current hospital; raises NotFound."""
    try:
        return visit_list().get(pk=visit_id)
    except (Visit.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such visit.") from None


def diagnosis_list() -> QuerySet[Diagnosis]:
    return Diagnosis.objects.select_related("visit")


def diagnosis_get(diagnosis_id: uuid.UUID | str) -> Diagnosis:
    """The diagnosis with this id in the current hospital; raises NotFound."""
    try:
        return diagnosis_list().get(pk=diagnosis_id)
    except (Diagnosis.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such diagnosis.") from None


def treatment_list() -> QuerySet[Treatment]:
    return Treatment.objects.select_related("visit")


def treatment_get(treatment_id: uuid.UUID | str) -> Treatment:
    """The treatment with this id in the current hospital; raises NotFound."""
    try:
        return treatment_list().get(pk=treatment_id)
    except (Treatment.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such treatment.") from None
