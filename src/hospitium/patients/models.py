"""Patients of one hospital (hospital store)."""

from __future__ import annotations

from django.db import models

from hospitium.core.models import HospitalModel
from hospitium.tenancy.fields import PROTECT, PlatformRef


class Patient(HospitalModel):
    class Sex(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"
        UNKNOWN = "unknown", "Unknown"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        DECEASED = "deceased", "Deceased"

    mrn = models.CharField("medical record number", max_length=32, unique=True)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    birth_date = models.DateField()
    sex = models.CharField(max_length=8, choices=Sex.choices, default=Sex.UNKNOWN)
    phone = models.CharField(max_length=40, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    address = models.TextField(max_length=1000, blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    #: Who registered the patient; a user who registered patients cannot simply be deleted.
    registered_by = PlatformRef("accounts.User", on_delete=PROTECT, null=True, blank=True)

    class Meta:
        ordering = ["family_name", "given_name"]
        indexes = [
            models.Index(fields=["family_name", "given_name"], name="patient_name"),
            # Listings show a visit's or treatment's patient by MRN: with the MRN in the index
            # of the key, that lookup reads one B-tree instead of the key's index then the table.
            models.Index(fields=["id", "mrn"], name="patient_id_mrn"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sex__in=["female", "male", "other", "unknown"]),
                name="patient_sex_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "inactive", "deceased"]),
                name="patient_status_valid",
            ),
            models.CheckConstraint(condition=~models.Q(mrn=""), name="patient_mrn_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name} ({self.mrn})"
