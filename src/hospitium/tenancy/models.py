"""Platform rows that describe hospitals: the hospital itself and the host names it answers on."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Length, Lower, Upper
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual

from hospitium.tenancy.context import HospitalRef


class Hospital(models.Model):
    """One tenant. Created only by ``hospitium.tenancy.provisioning.hospital_create``."""

    class Status(models.TextChoices):
        PROVISIONING = "provisioning", "Provisioning"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived (read-only)"
        FAILED = "failed", "Failed"

    code = models.CharField(
        max_length=32,
        unique=True,
        help_text="2–32 characters of A–Z, 0–9 and _. Never changes.",
    )
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROVISIONING)
    status_reason = models.TextField(blank=True, default="")
    #: Placement: the server the store is on ("" for the embedded SQLite default) and the store's
    #: name there (a file name under HOSPITIUM_HOME/hospitals, or a PostgreSQL schema).
    server = models.CharField(max_length=64, blank=True, default="")
    store_name = models.CharField(max_length=255)
    #: Fingerprint of the hospital migration set the store is at; "" when unknown.
    migration_fingerprint = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    #: Set while maintenance (a move, a restore) needs the hospital read-only; "" otherwise.
    locked_reason = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["code"]
        constraints = [
            # The character set (A–Z, 0–9, _) is checked by provisioning; the database guarantees
            # what it can express portably: length and upper case.
            models.CheckConstraint(
                condition=Q(GreaterThanOrEqual(Length("code"), 2))
                & Q(LessThanOrEqual(Length("code"), 32))
                & Q(code=Upper("code")),
                name="hospital_code_shape",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["provisioning", "active", "archived", "failed"]),
                name="hospital_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    def as_ref(self) -> HospitalRef:
        return HospitalRef(
            id=self.pk,
            code=self.code,
            name=self.name,
            status=self.status,
            server=self.server,
            store_name=self.store_name,
            locked=bool(self.locked_reason),
        )


class ProvisioningAttempt(models.Model):
    """A hospital's provisioning that has not finished: what ``repair`` needs to finish it, and
    which process is at work on it.

    Written in the transaction that records the hospital, deleted in the one that makes it
    active, so a row here means provisioning is under way or was cut short (a kill -9, a lost
    machine). The process is kept as host name and pid so that a crash on this machine is told
    from a slow provisioning at once (``tenancy.selectors.provisioning_stalled``).
    """

    hospital = models.OneToOneField(
        Hospital, on_delete=models.CASCADE, related_name="provisioning_attempt"
    )
    #: The first admin's email, so that repair can add the admin; never the password.
    admin_email = models.CharField(max_length=254, blank=True, default="")
    #: The currency the hospital invoices in, so that repair can write the store's settings.
    currency = models.CharField(max_length=3, blank=True, default="")
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    #: The last step that completed: "recorded", "store created" or "settings written".
    step = models.CharField(max_length=32)
    #: When the process named above started on this hospital (creation, or a repair).
    started_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"provisioning of {self.hospital_id} by {self.host}:{self.pid} ({self.step})"


class Domain(models.Model):
    """A host name a hospital answers on; unique across the platform, one primary per hospital."""

    hospital = models.ForeignKey(Hospital, on_delete=models.CASCADE, related_name="domains")
    host = models.CharField(max_length=253, unique=True)
    is_primary = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_primary", "host"]
        constraints = [
            models.UniqueConstraint(
                fields=["hospital"],
                condition=Q(is_primary=True),
                name="domain_one_primary_per_hospital",
            ),
            models.CheckConstraint(condition=Q(host=Lower("host")), name="domain_lowercase"),
            models.CheckConstraint(
                condition=Q(GreaterThanOrEqual(Length("host"), 1)), name="domain_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return self.host


class RoutingGeneration(models.Model):
    """One row: a number the database raises whenever a hospital's routing facts change.

    Routing facts are what a cached ``HospitalRef`` holds (code, name, status, placement, the
    maintenance lock) and every domain. Triggers of the platform store raise it on every such
    write, whoever makes it (services, the admin, raw SQL), so that each web process can keep
    its routing cache until the number moves, checking it once per
    HOSPITIUM_TENANT_CACHE_SECONDS instead of re-reading each hospital that often
    (see ``tenancy.selectors``). Never written by Python code.
    """

    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="routing_generation_single_row"),
        ]

    def __str__(self) -> str:
        return f"routing generation {self.value}"


class HospitalBackup(models.Model):
    """A backup file of one hospital's store. Kept (with the code) after the hospital is deleted."""

    hospital = models.ForeignKey(
        Hospital, null=True, blank=True, on_delete=models.SET_NULL, related_name="backups"
    )
    code = models.CharField(max_length=32)
    kind = models.CharField(max_length=16)  # "sqlite" or "postgresql"
    path = models.CharField(max_length=1024)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    migration_fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["code", "-created_at"], name="backup_code_created")]

    def __str__(self) -> str:
        return f"{self.code} backup of {self.created_at:%Y-%m-%d %H:%M:%S}"
