"""Reads of appointments, always in the current hospital's store."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from hospitium.core.errors import NotFound
from hospitium.scheduling.models import Appointment


def appointment_list() -> QuerySet[Appointment]:
    return Appointment.objects.select_related("patient", "practitioner")


def appointment_get(appointment_id: uuid.UUID | str) -> Appointment:
    """The appointment with this id in the current hospital; raises NotFound."""
    try:
        return appointment_list().get(pk=appointment_id)
    except (Appointment.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such appointment.") from None
