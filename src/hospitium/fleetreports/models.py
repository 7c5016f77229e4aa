"""Whole-fleet reports (platform store): one row per request, holding what was asked, by whom,
and where its file is. No hospital data lives here: the merged figures are only in the file
(Django storage, ``fleet-reports/<uuid>.<ext>``), which only platform superusers can read."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from hospitium.core.ids import new_id

STATUSES = ["queued", "generating", "completed", "failed", "cancelled", "expired"]


class FleetReport(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        GENERATING = "generating", "Generating"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    template_key = models.CharField(max_length=64)
    format = models.CharField(max_length=16)
    #: The validated filters and period, as the template's parameters store them.
    parameters = models.JSONField(default=dict)
    #: The hospitals asked for (codes); empty means every active hospital at generation time.
    hospital_codes = models.JSONField(default=list, blank=True)
    #: How many hospitals the finished report covers.
    hospital_count = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_by_label = models.CharField(max_length=254, blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    #: While queued: when the sweeper re-enqueues it; while generating: the worker's lease.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    storage_key = models.CharField(max_length=255, blank=True, default="")
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    duration_ms = models.BigIntegerField(null=True, blank=True)
    #: Safe to show the requester; the internal error goes to the log only.
    error_message = models.CharField(max_length=500, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    download_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "lease_expires_at"], name="fleet_report_status_lease"),
            models.Index(fields=["status", "expires_at"], name="fleet_report_status_expiry"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=STATUSES), name="fleet_report_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=100),
                name="fleet_report_progress_range",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed")
                | (~Q(storage_key="") & ~Q(sha256="") & Q(size__isnull=False) & Q(progress=100)),
                name="fleet_report_completed_has_file",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(error_message=""),
                name="fleet_report_failed_has_message",
            ),
            models.CheckConstraint(
                condition=~Q(status="generating") | Q(lease_expires_at__isnull=False),
                name="fleet_report_generating_has_lease",
            ),
            models.CheckConstraint(
                condition=~Q(template_key="") & ~Q(format=""), name="fleet_report_kind_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"fleet {self.template_key}.{self.format} ({self.status})"

    @property
    def is_running(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.GENERATING)
