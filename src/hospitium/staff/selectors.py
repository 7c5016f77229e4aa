"""Reads of departments and practitioners, always in the current hospital's store."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet

from hospitium.core.errors import NotFound
from hospitium.staff.models import Department, Practitioner


def department_list() -> QuerySet[Department]:
    """Departments with the number of practitioners in each (``practitioner_count``)."""
    return Department.objects.annotate(practitioner_count=Count("practitioners")).order_by("name")


def department_get(department_id: uuid.UUID | str) -> Department:
    """The department with this id in the current hospital; raises NotFound."""
    try:
        return Department.objects.get(pk=department_id)
    except (Department.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such department.") from None


def practitioner_list() -> QuerySet[Practitioner]:
    return Practitioner.objects.select_related("department")


def practitioner_get(practitioner_id: uuid.UUID | str) -> Practitioner:
    """The practitioner with this id in the current hospital; raises NotFound."""
    try:
        return practitioner_list().get(pk=practitioner_id)
    except (Practitioner.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such practitioner.") from None
