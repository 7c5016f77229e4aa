"""Reads of appointments, always in the current hospital's store."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from hospitium.core.errors import NotFound
from hospitium.scheduling.models import ACTIVE_STATUSES, Appointment
from hospitium.staff.models import Practitioner


def appointment_list() -> QuerySet[Appointment]:
    return Appointment.objects.select_related("patient", "practitioner")


def appointment_get(appointment_id: uuid.UUID | str) -> Appointment:
    """The appointment with this id in the current hospital; raises NotFound."""
    try:
        return appointment_list().get(pk=appointment_id)
    except (Appointment.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("No such appointment.") from None


def appointment_day(
    day: dt.date,
    *,
    practitioner_id: uuid.UUID | str | None = None,
    department_id: uuid.UUID | str | None = None,
) -> QuerySet[Appointment]:
    """The appointments starting on ``day`` (the hospital's time zone), by start time, of one
    practitioner or one department's practitioners when given."""
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    end = start + dt.timedelta(days=1)
    appointments = appointment_list().filter(starts_at__gte=start, starts_at__lt=end)
    if practitioner_id:
        appointments = appointments.filter(practitioner_id=practitioner_id)
    if department_id:
        appointments = appointments.filter(practitioner__department_id=department_id)
    return appointments.order_by("starts_at", "practitioner__display_name")


@dataclass(frozen=True)
class Slot:
    starts_at: dt.datetime
    ends_at: dt.datetime


def appointment_free_slots(
    *,
    practitioner: Practitioner,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    count: int = 3,
    step: dt.timedelta = dt.timedelta(minutes=15),
    horizon: dt.timedelta = dt.timedelta(hours=12),
    not_before: dt.datetime | None = None,
) -> list[Slot]:
    """The ``count`` free slots of the wanted length nearest to ``starts_at`` for this
    practitioner: starts on the ``step`` grid of the wanted start, at most ``horizon`` away,
    not before ``not_before`` (now, unless given); nearest first, the later one first on a tie.

    One query: the practitioner's booked and arrived appointments in the searched window.
    """
    length = ends_at - starts_at
    if length <= dt.timedelta(0) or step <= dt.timedelta(0):
        return []
    earliest = not_before if not_before is not None else timezone.now()
    busy = list(
        Appointment.objects.filter(
            practitioner=practitioner,
            status__in=ACTIVE_STATUSES,
            starts_at__lt=ends_at + horizon,
            ends_at__gt=starts_at - horizon,
        )
        .order_by("starts_at")
        .values_list("starts_at", "ends_at")
    )

    def free(start: dt.datetime) -> bool:
        end = start + length
        return start >= earliest and not any(b0 < end and b1 > start for b0, b1 in busy)

    slots: list[Slot] = []
    steps = int(horizon / step)
    for k in range(1, steps + 1):
        for start in (starts_at + k * step, starts_at - k * step):
            if free(start):
                slots.append(Slot(start, start + length))
        if len(slots) >= count:
            break
    return slots[:count]
