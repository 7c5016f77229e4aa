"""Reports of one hospital (hospital store): per-hospital template settings, generated reports
and their downloads. Files live in Django storage, not here."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from hospitium.core.models import HospitalModel

STATUSES = ["queued", "generating", "completed", "failed", "cancelled", "expired"]


class ReportPolicy(HospitalModel):
    """The hospital's report settings: one row (``singleton`` is always 1)."""

    singleton = models.PositiveSmallIntegerField(default=1, unique=True)
    retention_days = models.PositiveIntegerField(default=30)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(singleton=1), name="report_policy_singleton"),
            models.CheckConstraint(
                condition=Q(retention_days__gte=1) & Q(retention_days__lte=3650),
                name="report_policy_retention_range",
            ),
        ]

    def __str__(self) -> str:
        return f"reports kept {self.retention_days} days"


class ReportTemplateSetting(HospitalModel):
    """How one code template is offered in this hospital. Rows are created lazily from the
    code registry; ``allowed_formats`` empty means every format the template supports."""

    template_key = models.CharField(max_length=64, unique=True)
    enabled = models.BooleanField(default=True)
    display_name = models.CharField(max_length=200, blank=True, default="")
    default_parameters = models.JSONField(default=dict, blank=True)
    allowed_formats = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["template_key"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(template_key=""), name="report_template_key_not_empty"
            )
        ]

    def __str__(self) -> str:
        return self.display_name or self.template_key


class GeneratedReport(HospitalModel):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        GENERATING = "generating", "Generating"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    template_key = models.CharField(max_length=64)
    format = models.CharField(max_length=16)
    parameters = models.JSONField(default=dict)
    include_rows = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    #: The platform user who asked for it, kept as history (like AuditEvent.actor_id).
    requested_by_id = models.BigIntegerField(null=True, blank=True)
    requested_by_label = models.CharField(max_length=254, blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    #: While queued: when the sweeper re-enqueues it; while generating: the worker's lease.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    storage_key = models.CharField(max_length=255, blank=True, default="")
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    row_count = models.BigIntegerField(null=True, blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)
    #: Safe to show the requester; the internal error goes to the log only.
    error_message = models.CharField(max_length=500, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    download_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "lease_expires_at"], name="report_status_lease"),
            models.Index(fields=["requested_by_id", "-created_at"], name="report_requester"),
            models.Index(fields=["status", "expires_at"], name="report_status_expiry"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=STATUSES), name="report_status_valid"),
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=100), name="report_progress_range"
            ),
            models.CheckConstraint(
                condition=~Q(status="completed")
                | (~Q(storage_key="") & ~Q(sha256="") & Q(size__isnull=False) & Q(progress=100)),
                name="report_completed_has_file",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(error_message=""),
                name="report_failed_has_message",
            ),
            models.CheckConstraint(
                condition=~Q(status="generating") | Q(lease_expires_at__isnull=False),
                name="report_generating_has_lease",
            ),
            models.CheckConstraint(
                condition=~Q(template_key="") & ~Q(format=""), name="report_kind_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template_key}.{self.format} ({self.status})"

    @property
    def is_running(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.GENERATING)


class ReportDownload(HospitalModel):
    """One download of a report file: who, when, from where."""

    report = models.ForeignKey(GeneratedReport, on_delete=models.CASCADE, related_name="downloads")
    user_id = models.BigIntegerField(null=True, blank=True)
    at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    #: "api" (a signed-in request) or "link" (a signed URL).
    via = models.CharField(max_length=8, default="api")
    regenerated = models.BooleanField(default=False)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["at"], name="report_download_at")]
        constraints = [
            models.CheckConstraint(condition=Q(via__in=["api", "link"]), name="report_download_via")
        ]

    def __str__(self) -> str:
        return f"{self.report_id} by {self.user_id} at {self.at:%Y-%m-%d %H:%M:%S}"
