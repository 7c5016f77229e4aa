"""Writes to appointments."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError

from hospitium.core.db import atomic_service
from hospitium.core.errors import Conflict, ValidationFailed
from hospitium.patients.models import Patient
from hospitium.scheduling.models import ACTIVE_STATUSES, Appointment
from hospitium.staff.models import Practitioner
from hospitium.tenancy.router import current_alias


def _write_alias() -> str:
    return current_alias(write=True)


@atomic_service(_write_alias)
def appointment_book(
    *,
    patient: Patient,
    practitioner: Practitioner,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str = "",
) -> Appointment:
    """Book an appointment in the current hospital.

    Raises ValidationFailed (end not after start, naive times) or Conflict (the practitioner is
    already booked then). The database refuses an overlap too, so a concurrent booking that
    slips between check and insert ends as the same Conflict.
    """
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValidationFailed(
            "Times need a time zone.", fields={"starts_at": ["Give a time zone."]}
        )
    if ends_at <= starts_at:
        raise ValidationFailed(
            "An appointment must end after it starts.",
            fields={"ends_at": ["Must be after the start."]},
        )
    clash = Appointment.objects.filter(
        practitioner=practitioner,
        status__in=ACTIVE_STATUSES,
        starts_at__lt=ends_at,
        ends_at__gt=starts_at,
    ).first()
    if clash is not None:
        raise _busy(practitioner, clash.starts_at, clash.ends_at)
    try:
        return Appointment.objects.create(
            patient=patient,
            practitioner=practitioner,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason.strip(),
        )
    except IntegrityError as exc:
        raise _busy(practitioner, starts_at, ends_at) from exc


def _busy(practitioner: Practitioner, starts_at: dt.datetime, ends_at: dt.datetime) -> Conflict:
    return Conflict(
        f"{practitioner} already has an appointment between "
        f"{starts_at:%Y-%m-%d %H:%M} and {ends_at:%H:%M}.",
        fields={"starts_at": ["The practitioner is already booked at this time."]},
    )
