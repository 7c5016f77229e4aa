"""Wards, rooms, beds and admissions (hospital store)."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from hospitium.core.constraints import NoOverlap
from hospitium.core.models import HospitalModel, Voidable
from hospitium.patients.models import Patient


class Ward(HospitalModel):
    name = models.CharField(max_length=120, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Room(HospitalModel):
    ward = models.ForeignKey(Ward, on_delete=models.PROTECT, related_name="rooms")
    number = models.CharField(max_length=20)

    class Meta:
        ordering = ["ward__name", "number"]
        constraints = [
            models.UniqueConstraint(fields=["ward", "number"], name="room_number_unique_in_ward")
        ]

    def __str__(self) -> str:
        return f"{self.ward} {self.number}"


class Bed(HospitalModel):
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="beds")
    label = models.CharField(max_length=20)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["room__ward__name", "room__number", "label"]
        constraints = [
            models.UniqueConstraint(fields=["room", "label"], name="bed_label_unique_in_room")
        ]

    def __str__(self) -> str:
        return f"{self.room} bed {self.label}"


class Admission(Voidable, HospitalModel):
    """A stay in a bed: from admission until discharge (open while the patient is in)."""

    # No index of their own: admission_patient_discharged, admission_bed_admitted and
    # admission_bed_discharged lead with them.
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="admissions", db_index=False
    )
    bed = models.ForeignKey(
        Bed, on_delete=models.PROTECT, related_name="admissions", db_index=False
    )
    admitted_at = models.DateTimeField()
    discharged_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True, default="")

    class Meta(Voidable.Meta):
        ordering = ["-admitted_at"]
        indexes = [
            models.Index(fields=["bed", "admitted_at"], name="admission_bed_admitted"),
            # The no-overlap checks on SQLite seek here (core.constraints.NoOverlap).
            models.Index(fields=["bed", "discharged_at"], name="admission_bed_discharged"),
            models.Index(fields=["patient", "discharged_at"], name="admission_patient_discharged"),
        ]
        constraints = [
            *Voidable.Meta.constraints,
            models.CheckConstraint(
                condition=Q(discharged_at__isnull=True) | Q(discharged_at__gt=F("admitted_at")),
                name="admission_discharged_after_admitted",
                violation_error_message="A discharge must come after the admission.",
            ),
            NoOverlap(
                name="admission_bed_not_double_occupied",
                start="admitted_at",
                end="discharged_at",
                partition=["bed"],
                open_ended=True,
                condition=Q(voided_at__isnull=True),
                violation_error_message="The bed is occupied at that time.",
            ),
            NoOverlap(
                name="admission_patient_in_one_bed",
                start="admitted_at",
                end="discharged_at",
                partition=["patient"],
                open_ended=True,
                condition=Q(voided_at__isnull=True),
                violation_error_message="The patient is already admitted at that time.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} in {self.bed} from {self.admitted_at:%Y-%m-%d}"
