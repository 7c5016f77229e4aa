"""Departments and practitioners of one hospital (hospital store)."""

from __future__ import annotations

from django.db import models

from hospitium.core.models import HospitalModel
from hospitium.tenancy.fields import SET_NULL, PlatformRef


class Department(HospitalModel):
    name = models.CharField(max_length=120, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Practitioner(HospitalModel):
    class Kind(models.TextChoices):
        DOCTOR = "doctor", "Doctor"
        DENTIST = "dentist", "Dentist"
        NURSE = "nurse", "Nurse"
        OTHER = "other", "Other"

    display_name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.DOCTOR)
    specialty = models.CharField(max_length=120, blank=True, default="")
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="practitioners"
    )
    #: The platform user behind this practitioner, if they sign in.
    user = PlatformRef("accounts.User", on_delete=SET_NULL, null=True, blank=True)

    class Meta:
        ordering = ["display_name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["doctor", "dentist", "nurse", "other"]),
                name="practitioner_kind_valid",
            )
        ]

    def __str__(self) -> str:
        return self.display_name
