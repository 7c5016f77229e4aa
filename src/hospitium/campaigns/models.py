"""Health campaigns and patients' participation (hospital store)."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from hospitium.core.models import HospitalModel
from hospitium.patients.models import Patient


class Campaign(HospitalModel):
    class Kind(models.TextChoices):
        VACCINATION = "vaccination", "Vaccination"
        SCREENING = "screening", "Screening"
        AWARENESS = "awareness", "Awareness"
        OTHER = "other", "Other"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.OTHER)
    starts_on = models.DateField()
    ends_on = models.DateField()
    target = models.PositiveIntegerField(default=0, help_text="participants aimed for")

    class Meta:
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gt=F("starts_on")),
                name="campaign_ends_after_start",
                violation_error_message="A campaign must end after it starts.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["vaccination", "screening", "awareness", "other"]),
                name="campaign_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Participation(HospitalModel):
    class Outcome(models.TextChoices):
        ENROLLED = "enrolled", "Enrolled"
        COMPLETED = "completed", "Completed"
        DROPPED = "dropped", "Dropped out"
        NO_RESPONSE = "no_response", "No response"

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="participations")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="participations")
    joined_at = models.DateTimeField()
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.ENROLLED)

    class Meta:
        ordering = ["-joined_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "patient"], name="participation_once_per_campaign"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=["enrolled", "completed", "dropped", "no_response"]),
                name="participation_outcome_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} in {self.campaign}"
