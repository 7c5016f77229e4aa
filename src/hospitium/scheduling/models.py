"""Appointments of one hospital (hospital store)."""

from __future__ import annotations

from django.db import models

from hospitium.core.constraints import NoOverlap
from hospitium.core.models import HospitalModel
from hospitium.patients.models import Patient
from hospitium.staff.models import Practitioner

#: Statuses that hold a practitioner's time.
ACTIVE_STATUSES = ("booked", "arrived")


class Appointment(HospitalModel):
    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        ARRIVED = "arrived", "Arrived"
        FULFILLED = "fulfilled", "Fulfilled"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "noshow", "No-show"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    # No index of its own: appt_practitioner_start and appt_practitioner_end lead with it.
    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.PROTECT, related_name="appointments", db_index=False
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BOOKED)
    reason = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["practitioner", "starts_at"], name="appt_practitioner_start"),
            # The no-overlap check on SQLite seeks here (core.constraints.NoOverlap).
            models.Index(fields=["practitioner", "ends_at"], name="appt_practitioner_end"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="appointment_ends_after_start",
                violation_error_message="An appointment must end after it starts.",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    status__in=["booked", "arrived", "fulfilled", "cancelled", "noshow"]
                ),
                name="appointment_status_valid",
            ),
            NoOverlap(
                name="appointment_no_double_booking",
                start="starts_at",
                end="ends_at",
                partition=["practitioner"],
                condition=models.Q(status__in=ACTIVE_STATUSES),
                violation_error_message="The practitioner already has an appointment then.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} with {self.practitioner} at {self.starts_at:%Y-%m-%d %H:%M}"
