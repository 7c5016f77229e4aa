"""Patients of one hospital (hospital store)."""

from __future__ import annotations

from django.db import models

from hospitium.core.models import HospitalModel, Voidable
from hospitium.tenancy.fields import PROTECT, PlatformRef


class Patient(Voidable, HospitalModel):
    """A patient of one hospital. A registration made by mistake is voided with a reason (it
    stays, hidden from ordinary queries); one without any history may also be deleted."""

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

    class Meta(Voidable.Meta):
        ordering = ["family_name", "given_name"]
        indexes = [
            models.Index(fields=["family_name", "given_name"], name="patient_name"),
            # Search by date of birth, and the likely-duplicates check before a registration.
            models.Index(fields=["birth_date"], name="patient_birth_date"),
            # Listings show a visit's or treatment's patient by MRN: with the MRN in the index
            # of the key, that lookup reads one B-tree instead of the key's index then the table.
            models.Index(fields=["id", "mrn"], name="patient_id_mrn"),
        ]
        constraints = [
            *Voidable.Meta.constraints,
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


class MrnSequence(models.Model):
    """The hospital's own medical record numbers: ``prefix`` then the number, zero-padded to
    ``digits`` (``P000001``). One row; a registration without a number takes ``last_number + 1``
    in its own transaction (``INSERT … ON CONFLICT DO UPDATE … RETURNING``), so concurrent
    registrations queue on the row and a rolled-back one gives its number back."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    prefix = models.CharField(max_length=16, default="P")
    digits = models.PositiveSmallIntegerField(default=6)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="mrn_sequence_one_row"),
            models.CheckConstraint(
                condition=models.Q(digits__gte=1, digits__lte=12), name="mrn_sequence_digits"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}{self.last_number:0{self.digits}d}"
