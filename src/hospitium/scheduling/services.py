"""Writes to appointments: booking, rescheduling and the status flow.

booked → arrived → fulfilled; booked or arrived → cancelled; booked → noshow. Fulfilled,
cancelled and no-show are final.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError

from hospitium.audit.services import audit_record
from hospitium.core.db import atomic_service, broken_rule
from hospitium.core.errors import BusinessRuleViolation, Conflict, ValidationFailed
from hospitium.patients.models import Patient
from hospitium.scheduling.models import ACTIVE_STATUSES, Appointment
from hospitium.staff.models import Practitioner
from hospitium.tenancy.router import current_alias

Status = Appointment.Status

#: Where each status may go next; a status missing here is final.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.BOOKED: frozenset({Status.ARRIVED, Status.CANCELLED, Status.NO_SHOW}),
    Status.ARRIVED: frozenset({Status.FULFILLED, Status.CANCELLED}),
}
FINAL_STATUSES = frozenset(set(Status.values) - set(TRANSITIONS))


def _write_alias() -> str:
    return current_alias(write=True)


def _validate_period(starts_at: dt.datetime, ends_at: dt.datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValidationFailed(
            "Times need a time zone.", fields={"starts_at": ["Give a time zone."]}
        )
    if ends_at <= starts_at:
        raise ValidationFailed(
            "An appointment must end after it starts.",
            fields={"ends_at": ["Must be after the start."]},
        )


def _refuse_clash(
    practitioner: Practitioner,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    *,
    excluding: Appointment | None = None,
) -> None:
    clashes = Appointment.objects.filter(
        practitioner=practitioner,
        status__in=ACTIVE_STATUSES,
        starts_at__lt=ends_at,
        ends_at__gt=starts_at,
    )
    if excluding is not None:
        clashes = clashes.exclude(pk=excluding.pk)
    clash = clashes.first()
    if clash is not None:
        raise _busy(practitioner, clash.starts_at, clash.ends_at)


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
    _validate_period(starts_at, ends_at)
    reason = (reason or "").strip()
    if len(reason) > 200:
        raise ValidationFailed(fields={"reason": ["At most 200 characters."]})
    _refuse_clash(practitioner, starts_at, ends_at)
    try:
        appointment = Appointment.objects.create(
            patient=patient,
            practitioner=practitioner,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
        )
    except IntegrityError as exc:
        raise _busy(practitioner, starts_at, ends_at) from exc
    audit_record(action="create", object_type="appointments", object_id=appointment.pk)
    return appointment


@atomic_service(_write_alias)
def appointment_reschedule(
    *, appointment: Appointment, starts_at: dt.datetime, ends_at: dt.datetime
) -> Appointment:
    """Move a booked appointment to another time with the same practitioner.

    Raises ValidationFailed (bad times), BusinessRuleViolation (not booked any more) or Conflict
    (the practitioner is busy then; the database refuses a concurrent clash the same way).
    """
    _validate_period(starts_at, ends_at)
    fresh = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if fresh.status != Status.BOOKED:
        raise BusinessRuleViolation(
            f"Only a booked appointment can be rescheduled; this one is {fresh.status}.",
            fields={"status": [f"The appointment is {fresh.status}."]},
        )
    _refuse_clash(fresh.practitioner, starts_at, ends_at, excluding=fresh)
    before = {"starts_at": fresh.starts_at.isoformat(), "ends_at": fresh.ends_at.isoformat()}
    fresh.starts_at, fresh.ends_at = starts_at, ends_at
    try:
        fresh.save(update_fields=["starts_at", "ends_at", "updated_at"])
    except IntegrityError as exc:
        raise _busy(fresh.practitioner, starts_at, ends_at) from exc
    audit_record(
        action="update",
        object_type="appointments",
        object_id=fresh.pk,
        detail={
            "from": before,
            "to": {"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()},
        },
    )
    return fresh


def _transition_refused(current: str, to: str) -> BusinessRuleViolation:
    label = Status(current).label.lower()
    if current in FINAL_STATUSES:
        message = f"The appointment is already {label}; its status cannot change any more."
    else:
        message = f"An appointment that is {label} cannot be marked {Status(to).label.lower()}."
    return BusinessRuleViolation(message, fields={"status": [message]})


def _move(appointment: Appointment, to: str) -> Appointment:
    fresh = Appointment.objects.select_for_update().get(pk=appointment.pk)
    current = fresh.status
    if to not in TRANSITIONS.get(current, frozenset()):
        raise _transition_refused(current, to)
    fresh.status = to
    try:
        fresh.save(update_fields=["status", "updated_at"])
    except IntegrityError as exc:  # the database keeps the same order (migration 0002)
        if broken_rule(exc) == "appointment_status_flow":
            raise _transition_refused(current, to) from exc
        raise
    audit_record(
        action="update",
        object_type="appointments",
        object_id=fresh.pk,
        detail={"status": {"from": current, "to": to}},
    )
    return fresh


@atomic_service(_write_alias)
def appointment_arrive(*, appointment: Appointment) -> Appointment:
    """Mark that the patient has arrived. Raises BusinessRuleViolation unless booked."""
    return _move(appointment, Status.ARRIVED)


@atomic_service(_write_alias)
def appointment_fulfil(*, appointment: Appointment) -> Appointment:
    """Mark the appointment as held. Raises BusinessRuleViolation unless arrived."""
    return _move(appointment, Status.FULFILLED)


@atomic_service(_write_alias)
def appointment_cancel(*, appointment: Appointment) -> Appointment:
    """Cancel the appointment (frees the slot). Raises BusinessRuleViolation from a final
    status."""
    return _move(appointment, Status.CANCELLED)


@atomic_service(_write_alias)
def appointment_no_show(*, appointment: Appointment) -> Appointment:
    """Record that the patient did not come. Raises BusinessRuleViolation unless booked."""
    return _move(appointment, Status.NO_SHOW)


def _busy(practitioner: Practitioner, starts_at: dt.datetime, ends_at: dt.datetime) -> Conflict:
    return Conflict(
        f"{practitioner} already has an appointment between "
        f"{starts_at:%Y-%m-%d %H:%M} and {ends_at:%H:%M}.",
        fields={"starts_at": ["The practitioner is already booked at this time."]},
    )
