"""Treatment outcomes: by procedure and department, top diagnoses, follow-ups, success rate."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db.models import Count, F, Max, Q, QuerySet
from rest_framework import serializers

from hospitium.encounters.models import Diagnosis, Treatment
from hospitium.reports.base import (
    BaseParameters,
    Figure,
    Listing,
    ReportData,
    ReportMeta,
    ReportTemplate,
    Table,
)
from hospitium.reports.templates.patient_summary import percent, period_bounds, streamed
from hospitium.reports.templates.visit_trends import validate_department

TOP_DIAGNOSES = 10
OUTCOMES = [value for value, _ in Treatment.Outcome.choices]
SUCCESS = Q(outcome__in=[Treatment.Outcome.RESOLVED, Treatment.Outcome.IMPROVED])
WITH_OUTCOME = ~Q(outcome="")


class TreatmentOutcomesParameters(BaseParameters):
    department = serializers.UUIDField(
        required=False,
        allow_null=True,
        default=None,
        error_messages={"invalid": "A department is given by its id (a UUID)."},
    )

    def validate_department(self, value: uuid.UUID | None) -> uuid.UUID | None:
        return validate_department(value)


def outcome_counts() -> dict[str, Count]:
    """Conditional counts per outcome (the total is annotated by the caller)."""
    counts = {name: Count("id", filter=Q(outcome=name)) for name in OUTCOMES}
    counts["no_outcome"] = Count("id", filter=Q(outcome=""))
    counts["with_outcome"] = Count("id", filter=WITH_OUTCOME)
    counts["successful"] = Count("id", filter=SUCCESS)
    return counts


def outcome_row(label: Any, row: Mapping[str, Any]) -> list[Any]:
    return [
        label,
        *(row[name] for name in OUTCOMES),
        row["no_outcome"],
        row["total"],
        percent(row["successful"], row["with_outcome"]),
    ]


OUTCOME_COLUMNS = [
    *(label for _, label in Treatment.Outcome.choices),
    "No outcome yet",
    "Treatments",
    "Success rate (%)",
]


class TreatmentOutcomes(ReportTemplate):
    """What treatments achieved, where, and for which diagnoses."""

    key = "treatment_outcomes"
    title = "Treatment outcomes"
    description = (
        "Outcomes by procedure and by department, the top diagnoses, follow-ups due and kept, "
        "and the success rate (resolved + improved over treatments with an outcome)."
    )
    parameters = TreatmentOutcomesParameters
    # Outcomes are recorded days after treatment and read by clinical leads weekly: two hours
    # of staleness costs nothing and the per-procedure grouping is the heaviest of the four.
    cache_seconds = 7200

    def build(self, params: dict[str, Any], meta: ReportMeta) -> ReportData:
        # Treatments of voided visits are as void as the visit.
        live = Treatment.objects.filter(visit__voided_at__isnull=True)
        if params.get("department"):
            live = live.filter(visit__practitioner__department_id=params["department"])
        period = (params["date_from"], params["date_to"])
        treatments = live.filter(performed_on__range=period)
        # The listing first: building it may start its CSV readers (csvlines.early_readers),
        # which then read while the figures below are computed.
        listings = [self._listing(treatments)] if params.get("include_rows") else []

        totals = treatments.aggregate(total=Count("id"), **outcome_counts())
        follow_ups = live.filter(follow_up_required=True, follow_up_date__range=period).aggregate(
            due=Count("id"), kept=Count("id", filter=Q(follow_up_kept_on__isnull=False))
        )
        figures = [
            Figure("treatments_total", "Treatments", totals["total"], "treatments"),
            Figure(
                "treatments_with_outcome", "With an outcome", totals["with_outcome"], "treatments"
            ),
            Figure(
                "success_rate",
                "Success rate (resolved + improved)",
                percent(totals["successful"], totals["with_outcome"]),
                "%",
            ),
            Figure(
                "follow_ups_due", "Follow-ups due in the period", follow_ups["due"], "follow-ups"
            ),
            Figure("follow_ups_kept", "Follow-ups kept", follow_ups["kept"], "follow-ups"),
            Figure(
                "follow_ups_kept_rate",
                "Follow-ups kept (%)",
                percent(follow_ups["kept"], follow_ups["due"]),
                "%",
            ),
        ]

        by_procedure = Table(
            "by_procedure",
            "Outcomes by procedure",
            ["Procedure", *OUTCOME_COLUMNS],
            [
                outcome_row(row["procedure"], row)
                for row in treatments.values("procedure")
                .annotate(total=Count("id"), **outcome_counts())
                .order_by("-total", "procedure")
            ],
        )
        by_department = Table(
            "by_department",
            "Outcomes by department",
            ["Department", *OUTCOME_COLUMNS],
            [
                outcome_row(row["department"], row)
                for row in treatments.values(department=F("visit__practitioner__department__name"))
                .annotate(total=Count("id"), **outcome_counts())
                .order_by("-total", "department")
            ],
        )

        start, end = period_bounds(params)
        diagnoses = Diagnosis.objects.filter(
            visit__voided_at__isnull=True, visit__started_at__gte=start, visit__started_at__lt=end
        )
        if params.get("department"):
            diagnoses = diagnoses.filter(visit__practitioner__department_id=params["department"])
        top = Table(
            "top_diagnoses",
            f"Top diagnoses (ICD-10, top {TOP_DIAGNOSES})",
            ["ICD-10 code", "Description", "Count"],
            [
                list(row)
                for row in diagnoses.values("code")
                .annotate(count=Count("id"), text=Max("description"))
                .order_by("-count", "code")
                .values_list("code", "text", "count")[:TOP_DIAGNOSES]
            ],
        )
        return ReportData(
            meta=meta,
            figures=figures,
            tables=[by_procedure, by_department, top],
            listings=listings,
        )

    def _listing(self, treatments: QuerySet[Treatment]) -> Listing:
        rows = treatments.order_by("performed_on", "id").values_list(
            "id",
            "performed_on",
            "procedure",
            "outcome",
            "visit__kind",
            "visit__patient__mrn",
            "visit__practitioner__display_name",
            "visit__practitioner__department__name",
            "follow_up_required",
            "follow_up_date",
            "follow_up_kept_on",
        )

        return Listing(
            "treatments",
            "Treatments of the period",
            [
                "Treatment",
                "Performed on",
                "Procedure",
                "Outcome",
                "Visit kind",
                "Patient MRN",
                "Practitioner",
                "Department",
                "Follow-up required",
                "Follow-up date",
                "Follow-up kept on",
            ],
            streamed(rows),
        )


TEMPLATE = TreatmentOutcomes()
