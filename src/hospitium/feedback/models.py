"""Patients' feedback on visits (hospital store)."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from hospitium.core.models import HospitalModel
from hospitium.encounters.models import Visit


class Feedback(HospitalModel):
    visit = models.OneToOneField(Visit, on_delete=models.PROTECT, related_name="feedback")
    rating = models.PositiveSmallIntegerField()
    comment = models.TextField(max_length=4000, blank=True, default="")
    submitted_at = models.DateTimeField()
    response = models.TextField(max_length=4000, blank=True, default="")
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at"]
        verbose_name_plural = "feedback"
        indexes = [models.Index(fields=["submitted_at"], name="feedback_submitted")]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1, rating__lte=5),
                name="feedback_rating_1_to_5",
                violation_error_message="A rating is from 1 to 5.",
            ),
            models.CheckConstraint(
                condition=Q(responded_at__isnull=True) | Q(responded_at__gte=F("submitted_at")),
                name="feedback_response_after_submission",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rating}/5 for {self.visit}"
