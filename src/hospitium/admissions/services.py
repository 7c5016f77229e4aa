"""Writes to wards, beds and admissions.

A bed is occupied from an admission until its discharge; a discharge frees the bed at the
discharge time, not before. A transfer is a discharge and an admission at the same instant.
The database enforces the same rules (admissions.models), so a write that slips past these
checks concurrently still fails, as the same Conflict.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError
from django.db.models import ProtectedError, Q
from django.utils import timezone

from hospitium.admissions.models import Admission, Bed, Room, Ward
from hospitium.admissions.selectors import all_stays, stays
from hospitium.audit.services import audit_record
from hospitium.core.db import atomic_service, broken_rule
from hospitium.core.errors import BusinessRuleViolation, Conflict, ValidationFailed
from hospitium.core.voiding import record_void
from hospitium.patients.models import Patient
from hospitium.tenancy.router import current_alias


def _write_alias() -> str:
    return current_alias(write=True)


def _required_text(value: str, field: str, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationFailed(fields={field: ["Required."]})
    if len(value) > max_length:
        raise ValidationFailed(fields={field: [f"At most {max_length} characters."]})
    return value


# --- wards and beds ----------------------------------------------------------------------------


@atomic_service(_write_alias)
def ward_create(*, name: str) -> Ward:
    """Create a ward. Raises ValidationFailed (no name) or Conflict (name in use)."""
    name = _required_text(name, "name", 120)
    if Ward.objects.filter(name__iexact=name).exists():
        raise Conflict(
            f"There is already a ward called {name}.",
            fields={"name": ["Already in use in this hospital."]},
        )
    try:
        ward = Ward.objects.create(name=name)
    except IntegrityError as exc:
        raise Conflict(f"There is already a ward called {name}.") from exc
    audit_record(action="create", object_type="wards", object_id=ward.pk)
    return ward


@atomic_service(_write_alias)
def ward_rename(*, ward: Ward, name: str) -> Ward:
    """Rename a ward. Raises ValidationFailed or Conflict like ward_create."""
    name = _required_text(name, "name", 120)
    if Ward.objects.filter(name__iexact=name).exclude(pk=ward.pk).exists():
        raise Conflict(
            f"There is already a ward called {name}.",
            fields={"name": ["Already in use in this hospital."]},
        )
    fresh = Ward.objects.select_for_update().get(pk=ward.pk)
    fresh.name = name
    fresh.save(update_fields=["name", "updated_at"])
    audit_record(action="update", object_type="wards", object_id=fresh.pk)
    return fresh


@atomic_service(_write_alias)
def ward_delete(*, ward: Ward) -> None:
    """Delete a ward that has no rooms. Raises BusinessRuleViolation otherwise."""
    try:
        Ward.objects.filter(pk=ward.pk).delete()
    except ProtectedError as exc:
        raise BusinessRuleViolation(
            f"Ward {ward.name} still has rooms and beds; it cannot be deleted."
        ) from exc
    audit_record(action="delete", object_type="wards", object_id=ward.pk)


@atomic_service(_write_alias)
def bed_create(*, ward: Ward, room_number: str, label: str) -> Bed:
    """Add a bed to a room of a ward (the room is created when it is new).

    Raises ValidationFailed (missing number or label) or Conflict (the label is taken in
    that room).
    """
    room_number = _required_text(room_number, "room_number", 20)
    label = _required_text(label, "label", 20)
    room, _ = Room.objects.get_or_create(ward=ward, number=room_number)
    if Bed.objects.filter(room=room, label=label).exists():
        raise _bed_taken(ward, room_number, label)
    try:
        bed = Bed.objects.create(room=room, label=label)
    except IntegrityError as exc:
        raise _bed_taken(ward, room_number, label) from exc
    audit_record(
        action="create",
        object_type="beds",
        object_id=bed.pk,
        detail={"ward": str(ward.pk), "room": room_number, "label": label},
    )
    return bed


def _bed_taken(ward: Ward, room_number: str, label: str) -> Conflict:
    return Conflict(
        f"Room {room_number} of {ward.name} already has a bed {label}.",
        fields={"label": ["Already used in this room."]},
    )


@atomic_service(_write_alias)
def bed_set_active(*, bed: Bed, active: bool) -> Bed:
    """Take a bed out of use (or back into it). Raises BusinessRuleViolation when deactivating a
    bed that is occupied now or booked by a later admission."""
    fresh = Bed.objects.select_for_update().select_related("room__ward").get(pk=bed.pk)
    if fresh.is_active == active:
        return fresh
    if not active:
        stay = (
            stays()
            .filter(bed=fresh)
            .filter(Q(discharged_at__isnull=True) | Q(discharged_at__gt=timezone.now()))
            .select_related("patient")
            .first()
        )
        if stay is not None:
            raise BusinessRuleViolation(
                f"{fresh} is occupied by {stay.patient}; discharge or transfer the patient "
                "before taking the bed out of use."
            )
    fresh.is_active = active
    fresh.save(update_fields=["is_active", "updated_at"])
    audit_record(
        action="update", object_type="beds", object_id=fresh.pk, detail={"is_active": active}
    )
    return fresh


def bed_deactivate(*, bed: Bed) -> Bed:
    """Take a bed out of use; see bed_set_active."""
    return bed_set_active(bed=bed, active=False)


# --- admissions --------------------------------------------------------------------------------


def _aware(value: dt.datetime, field: str) -> None:
    if value.tzinfo is None:
        raise ValidationFailed("Times need a time zone.", fields={field: ["Give a time zone."]})


def _occupant(
    bed: Bed, since: dt.datetime, *, excluding: Admission | None = None
) -> Admission | None:
    """The admission holding ``bed`` at or after ``since`` (an open-ended stay from then)."""
    held = (
        stays().filter(bed=bed).filter(Q(discharged_at__isnull=True) | Q(discharged_at__gt=since))
    )
    if excluding is not None:
        held = held.exclude(pk=excluding.pk)
    return held.select_related("patient").order_by("admitted_at").first()


def _out_of_use(bed: Bed) -> BusinessRuleViolation:
    return BusinessRuleViolation(
        f"{bed} is out of use.", fields={"bed": ["This bed is not in use."]}
    )


def _refuse_out_of_use(bed: Bed) -> None:
    if not bed.is_active:
        raise _out_of_use(bed)


def _check_bed(bed: Bed, at: dt.datetime, *, excluding: Admission | None = None) -> Bed:
    locked = Bed.objects.select_for_update().select_related("room__ward").get(pk=bed.pk)
    _refuse_out_of_use(locked)
    stay = _occupant(locked, at, excluding=excluding)
    if stay is not None:
        raise _bed_occupied(locked, stay)
    return locked


def _bed_occupied(bed: Bed, stay: Admission) -> Conflict:
    until = f" until {stay.discharged_at:%Y-%m-%d %H:%M}" if stay.discharged_at else ""
    return Conflict(
        f"{bed} is occupied by {stay.patient} from {stay.admitted_at:%Y-%m-%d %H:%M}{until}.",
        fields={"bed": ["The bed is occupied at that time."]},
    )


def _check_patient(
    patient: Patient, at: dt.datetime, *, excluding: Admission | None = None
) -> None:
    held = (
        stays()
        .filter(patient=patient)
        .filter(Q(discharged_at__isnull=True) | Q(discharged_at__gt=at))
    )
    if excluding is not None:
        held = held.exclude(pk=excluding.pk)
    stay = held.select_related("bed__room__ward").first()
    if stay is not None:
        raise Conflict(
            f"{patient} is already admitted to {stay.bed} since {stay.admitted_at:%Y-%m-%d %H:%M}.",
            fields={"patient": ["The patient is already admitted at that time."]},
        )


def _refused_by_database(
    exc: IntegrityError, bed: Bed, patient: Patient
) -> Conflict | BusinessRuleViolation:
    """The clear error for a write the database refused after our checks passed (a race)."""
    rule = broken_rule(exc)
    if rule == "admission_bed_in_use":
        return _out_of_use(bed)
    if rule == "admission_patient_in_one_bed":
        return Conflict(
            f"{patient} is already admitted at that time.",
            fields={"patient": ["The patient is already admitted at that time."]},
        )
    return Conflict(
        f"{bed} is occupied at that time.", fields={"bed": ["The bed is occupied at that time."]}
    )


@atomic_service(_write_alias)
def admission_admit(
    *, patient: Patient, bed: Bed, admitted_at: dt.datetime | None = None, reason: str = ""
) -> Admission:
    """Admit a patient to a bed from ``admitted_at`` (default now) until discharge.

    Raises ValidationFailed (naive time, long reason), BusinessRuleViolation (the bed is out of
    use) or Conflict (the bed is occupied — naming by whom — or the patient is already admitted).
    """
    admitted_at = admitted_at or timezone.now()
    _aware(admitted_at, "admitted_at")
    reason = (reason or "").strip()
    if len(reason) > 300:
        raise ValidationFailed(fields={"reason": ["At most 300 characters."]})
    # Locking the bed first serialises admissions to it, so the loser sees the winner's row.
    locked = _check_bed(bed, admitted_at)
    _check_patient(patient, admitted_at)
    try:
        admission = _create_stay(
            patient=patient, bed=locked, admitted_at=admitted_at, reason=reason
        )
    except IntegrityError as exc:
        raise _refused_by_database(exc, locked, patient) from exc
    audit_record(
        action="create",
        object_type="admissions",
        object_id=admission.pk,
        detail={"bed": str(locked.pk), "patient": str(patient.pk)},
    )
    return admission


def _create_stay(*, patient: Patient, bed: Bed, admitted_at: dt.datetime, reason: str) -> Admission:
    stay = Admission(patient=patient, bed=bed, admitted_at=admitted_at, reason=reason)
    stay.save(force_insert=True)
    return stay


def _open_admission(admission: Admission) -> Admission:
    fresh = all_stays().select_for_update().get(pk=admission.pk)
    if fresh.voided_at is not None:
        raise BusinessRuleViolation("This admission was voided.")
    if fresh.discharged_at is not None:
        raise BusinessRuleViolation(
            f"The patient was already discharged at {fresh.discharged_at:%Y-%m-%d %H:%M}.",
            fields={"discharged_at": ["Already discharged."]},
        )
    return fresh


def _check_after_admission(admission: Admission, at: dt.datetime, field: str) -> None:
    _aware(at, field)
    if at <= admission.admitted_at:
        raise ValidationFailed(
            "A discharge must come after the admission.",
            fields={field: [f"Must be after {admission.admitted_at:%Y-%m-%d %H:%M}."]},
        )


@atomic_service(_write_alias)
def admission_discharge(
    *, admission: Admission, discharged_at: dt.datetime | None = None
) -> Admission:
    """Discharge the patient at ``discharged_at`` (default now); the bed is free from then on.

    Raises ValidationFailed (not after the admission) or BusinessRuleViolation (already
    discharged or voided).
    """
    discharged_at = discharged_at or timezone.now()
    fresh = _open_admission(admission)
    _check_after_admission(fresh, discharged_at, "discharged_at")
    fresh.discharged_at = discharged_at
    fresh.save(update_fields=["discharged_at", "updated_at"])
    audit_record(
        action="update",
        object_type="admissions",
        object_id=fresh.pk,
        detail={"discharged_at": discharged_at.isoformat()},
    )
    return fresh


@atomic_service(_write_alias)
def admission_transfer(
    *, admission: Admission, bed: Bed, at: dt.datetime | None = None
) -> Admission:
    """Move the patient to another bed at ``at`` (default now): the stay in the old bed ends and
    one in the new bed begins at the same instant, in one transaction. Returns the new stay.

    Raises ValidationFailed (``at`` not after the admission, same bed), BusinessRuleViolation
    (discharged, voided, bed out of use) or Conflict (the new bed is occupied).
    """
    at = at or timezone.now()
    fresh = _open_admission(admission)
    _check_after_admission(fresh, at, "at")
    if bed.pk == fresh.bed_id:
        raise ValidationFailed(
            "The patient is already in this bed.", fields={"bed": ["Choose another bed."]}
        )
    locked = _check_bed(bed, at)
    fresh.discharged_at = at
    fresh.save(update_fields=["discharged_at", "updated_at"])
    try:
        moved = _create_stay(patient=fresh.patient, bed=locked, admitted_at=at, reason=fresh.reason)
    except IntegrityError as exc:
        raise _refused_by_database(exc, locked, fresh.patient) from exc
    audit_record(
        action="update",
        object_type="admissions",
        object_id=fresh.pk,
        detail={"discharged_at": at.isoformat(), "transferred_to": str(moved.pk)},
    )
    audit_record(
        action="create",
        object_type="admissions",
        object_id=moved.pk,
        detail={"bed": str(locked.pk), "transferred_from": str(fresh.pk)},
    )
    return moved


@atomic_service(_write_alias)
def admission_void(*, admission: Admission, reason: str) -> Admission:
    """Void an admission recorded in error (the bed is free again for its period).

    Raises ValidationFailed without a reason, BusinessRuleViolation when already voided.
    """
    return record_void(admission, reason=reason, object_type="admissions")
