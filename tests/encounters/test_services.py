"""Encounters services: each rule is refused with a clear error before the database, nothing is
written when it is, and every write leaves an audit event in the same transaction."""

from __future__ import annotations

import datetime as dt

import pytest

from hospitium.audit.models import AuditEvent
from hospitium.core.errors import BusinessRuleViolation, Conflict, NotFound, ValidationFailed
from hospitium.encounters.models import Diagnosis, Treatment, Visit
from hospitium.encounters.services import (
    diagnosis_add,
    diagnosis_update,
    diagnosis_void,
    normalise_icd10,
    treatment_add,
    treatment_update,
    treatment_void,
    visit_close,
    visit_record,
    visit_update,
    visit_void,
)
from hospitium.tenancy.context import hospital_context
from tests import factories
from tests.encounters.factories import DAY, T0

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


def events(action: str, object_type: str) -> list[str]:
    return list(
        AuditEvent.objects.filter(action=action, object_type=object_type).values_list(
            "object_id", flat=True
        )
    )


# --- visits ----------------------------------------------------------------------------------


def test_a_visit_is_recorded_and_audited(clinic):
    with hospital_context(clinic.hospital):
        visit = visit_record(
            patient=clinic.patient,
            practitioner=clinic.practitioner,
            kind="dental",
            started_at=T0,
            chief_complaint="  Toothache ",
        )
        stored = Visit.objects.get(pk=visit.pk)
        assert (stored.kind, stored.chief_complaint, stored.ended_at) == (
            "dental",
            "Toothache",
            None,
        )
        assert events("create", "visits") == [str(visit.pk)]


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"ended_at": T0 - HOUR}, "ended_at", "cannot end before it starts"),
        ({"kind": "surgical"}, "kind", "Choose one of medical, dental"),
        ({"started_at": dt.datetime(2026, 11, 23, 9)}, "started_at", "time zone"),
        ({"chief_complaint": "x" * 501}, "chief_complaint", "At most 500"),
    ],
)
def test_a_bad_visit_is_refused_before_the_database(clinic, kwargs, field, message):
    with hospital_context(clinic.hospital):
        arguments = {
            "patient": clinic.patient,
            "practitioner": clinic.practitioner,
            "started_at": T0,
        } | kwargs
        with pytest.raises(ValidationFailed) as caught:
            visit_record(**arguments)
        assert message in caught.value.fields[field][0]
        assert Visit.all_objects.count() == 1
        assert events("create", "visits") == []


def test_a_patient_of_another_hospital_does_not_exist_here(clinic, hospital_b):
    with hospital_context(hospital_b):
        stranger = factories.patient()
    with hospital_context(clinic.hospital):
        with pytest.raises(NotFound) as caught:
            visit_record(patient=stranger, practitioner=clinic.practitioner, started_at=T0)
        assert "patient" in caught.value.fields
        assert Visit.all_objects.count() == 1


def test_a_visit_is_updated_and_audited(clinic):
    with hospital_context(clinic.hospital):
        other = factories.practitioner()
        updated = visit_update(
            visit=clinic.visit, practitioner=other, kind="dental", ended_at=T0 + HOUR
        )
        stored = Visit.objects.get(pk=clinic.visit.pk)
        assert (stored.practitioner_id, stored.kind, stored.ended_at) == (
            other.pk,
            "dental",
            T0 + HOUR,
        )
        assert updated.kind == "dental"
        [event] = AuditEvent.objects.filter(action="update", object_type="visits")
        assert event.detail == {"fields": ["ended_at", "kind", "practitioner"]}


def test_a_visit_update_keeps_the_rules(clinic):
    with hospital_context(clinic.hospital):
        with pytest.raises(ValidationFailed, match="cannot be changed") as caught:
            visit_update(visit=clinic.visit, patient=factories.patient())
        assert caught.value.fields == {"patient": ["Not editable."]}
        visit_update(visit=clinic.visit, ended_at=T0 + HOUR)
        with pytest.raises(ValidationFailed) as caught:
            visit_update(visit=clinic.visit, started_at=T0 + 2 * HOUR)  # after its end
        assert "ended_at" in caught.value.fields
        with pytest.raises(ValidationFailed) as caught:
            visit_update(visit=clinic.visit, started_at=T0 + DAY, ended_at=None)
        assert "treatment" in caught.value.fields["started_at"][0]
        stored = Visit.objects.get(pk=clinic.visit.pk)
        assert (stored.started_at, stored.ended_at) == (T0, T0 + HOUR)


def test_a_visit_is_closed_once(clinic):
    with hospital_context(clinic.hospital):
        with pytest.raises(ValidationFailed, match="Some of the input") as caught:
            visit_close(visit=clinic.visit, ended_at=T0 - HOUR)
        assert "ended_at" in caught.value.fields
        closed = visit_close(visit=clinic.visit, ended_at=T0 + HOUR)
        assert Visit.objects.get(pk=clinic.visit.pk).ended_at == T0 + HOUR == closed.ended_at
        with pytest.raises(BusinessRuleViolation, match="already closed"):
            visit_close(visit=clinic.visit)
        assert Visit.objects.get(pk=clinic.visit.pk).ended_at == T0 + HOUR


def test_voiding_a_visit_voids_its_diagnoses_and_treatments(clinic):
    with hospital_context(clinic.hospital):
        voided = visit_void(visit=clinic.visit, reason="wrong patient")
        assert voided.is_voided and voided.void_reason == "wrong patient"
        for model in (Visit, Diagnosis, Treatment):
            assert model.objects.count() == 0
            [row] = model.all_objects.all()
            assert row.voided_at is not None and row.void_reason == "wrong patient"
        assert events("void", "visits") == [str(clinic.visit.pk)]
        assert events("void", "diagnoses") == [str(clinic.diagnosis.pk)]
        assert events("void", "treatments") == [str(clinic.treatment.pk)]
        with pytest.raises(BusinessRuleViolation, match="already voided"):
            visit_void(visit=clinic.visit, reason="again")


def test_a_void_needs_a_reason(clinic):
    with hospital_context(clinic.hospital):
        for void in (
            lambda: visit_void(visit=clinic.visit, reason="  "),
            lambda: diagnosis_void(diagnosis=clinic.diagnosis, reason=""),
            lambda: treatment_void(treatment=clinic.treatment, reason=""),
        ):
            with pytest.raises(ValidationFailed) as caught:
                void()
            assert caught.value.fields == {"reason": ["Required."]}
        assert Visit.objects.count() == Diagnosis.objects.count() == Treatment.objects.count() == 1
        assert not AuditEvent.objects.filter(action="void").exists()


def test_a_voided_visit_cannot_be_changed_or_given_children(clinic):
    with hospital_context(clinic.hospital):
        visit_void(visit=clinic.visit, reason="duplicate")
        for write in (
            lambda: visit_update(visit=clinic.visit, kind="dental"),
            lambda: visit_close(visit=clinic.visit),
            lambda: diagnosis_add(visit=clinic.visit, code="I10"),
            lambda: treatment_add(visit=clinic.visit, procedure="X-ray"),
        ):
            with pytest.raises(BusinessRuleViolation, match="voided"):
                write()
        assert Diagnosis.all_objects.count() == Treatment.all_objects.count() == 1
        assert Visit.all_objects.get().kind == "medical"


# --- diagnoses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normal"), [("J45.0", "J45.0"), ("j450", "J45.0"), (" i10 ", "I10"), ("A00.", "A00")]
)
def test_icd10_codes_are_normalised(given, normal):
    assert normalise_icd10(given) == normal


@pytest.mark.parametrize("code", ["XYZ", "J45.9999", "J40-J47", "X", "", "J45,0"])
def test_codes_outside_the_who_list_are_refused(code):
    with pytest.raises(ValidationFailed) as caught:
        normalise_icd10(code)
    assert "code" in caught.value.fields


def test_a_diagnosis_is_added_with_the_who_description_and_audited(clinic):
    with hospital_context(clinic.hospital):
        diagnosis = diagnosis_add(visit=clinic.visit, code="i10")
        stored = Diagnosis.objects.get(pk=diagnosis.pk)
        assert (stored.code, stored.description, stored.is_primary) == (
            "I10",
            "Essential (primary) hypertension",
            False,
        )
        [event] = AuditEvent.objects.filter(action="create", object_type="diagnoses")
        assert event.object_id == str(diagnosis.pk)
        assert event.detail == {"visit": str(clinic.visit.pk), "code": "I10"}


def test_an_unknown_code_writes_nothing(clinic):
    with hospital_context(clinic.hospital):
        with pytest.raises(ValidationFailed, match="not an ICD-10 code"):
            diagnosis_add(visit=clinic.visit, code="Q99.99")
        assert Diagnosis.all_objects.count() == 1
        assert events("create", "diagnoses") == []


def test_a_second_primary_diagnosis_is_a_conflict(clinic):
    with hospital_context(clinic.hospital):
        with pytest.raises(Conflict, match=r"already has a primary diagnosis \(J45.0\)") as caught:
            diagnosis_add(visit=clinic.visit, code="I10", is_primary=True)
        assert caught.value.fields == {"is_primary": ["A visit has only one primary diagnosis."]}
        secondary = diagnosis_add(visit=clinic.visit, code="I10")
        with pytest.raises(Conflict):
            diagnosis_update(diagnosis=secondary, is_primary=True)
        assert Diagnosis.objects.filter(is_primary=True).get().pk == clinic.diagnosis.pk
        diagnosis_void(diagnosis=clinic.diagnosis, reason="coded in error")
        diagnosis_update(diagnosis=secondary, is_primary=True)
        assert Diagnosis.objects.filter(is_primary=True).get().pk == secondary.pk


def test_a_diagnosis_update_re_describes_a_new_code(clinic):
    with hospital_context(clinic.hospital):
        diagnosis_update(diagnosis=clinic.diagnosis, code="e11.9")
        stored = Diagnosis.objects.get(pk=clinic.diagnosis.pk)
        assert stored.code == "E11.9"
        assert "diabetes" in stored.description.lower()
        with pytest.raises(ValidationFailed):
            diagnosis_update(diagnosis=clinic.diagnosis, code="nonsense")
        with pytest.raises(ValidationFailed, match="cannot be changed"):
            diagnosis_update(diagnosis=clinic.diagnosis, description="made up")
        assert Diagnosis.objects.get(pk=clinic.diagnosis.pk).code == "E11.9"
        assert events("update", "diagnoses") == [str(clinic.diagnosis.pk)]


def test_a_voided_diagnosis_vanishes_and_cannot_be_changed(clinic):
    with hospital_context(clinic.hospital):
        diagnosis_void(diagnosis=clinic.diagnosis, reason="coded in error")
        assert not Diagnosis.objects.exists()
        assert Diagnosis.all_objects.get().void_reason == "coded in error"
        with pytest.raises(BusinessRuleViolation, match="voided"):
            diagnosis_update(diagnosis=clinic.diagnosis, code="I10")
        with pytest.raises(BusinessRuleViolation, match="already voided"):
            diagnosis_void(diagnosis=clinic.diagnosis, reason="again")


# --- treatments ------------------------------------------------------------------------------


def test_a_treatment_defaults_to_the_visit_day_and_is_audited(clinic):
    with hospital_context(clinic.hospital):
        treatment = treatment_add(visit=clinic.visit, procedure=" Nebuliser ")
        stored = Treatment.objects.get(pk=treatment.pk)
        assert (stored.procedure, stored.performed_on) == ("Nebuliser", T0.date())
        assert events("create", "treatments") == [str(treatment.pk)]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"performed_on": T0.date() - DAY}, "performed_on"),
        ({"follow_up_date": T0.date() + DAY}, "follow_up_date"),
        ({"follow_up_required": True, "follow_up_date": T0.date() - DAY}, "follow_up_date"),
        (
            {
                "performed_on": T0.date() + DAY,
                "follow_up_required": True,
                "follow_up_date": T0.date(),
            },
            "follow_up_date",
        ),
        ({"follow_up_kept_on": T0.date() - DAY}, "follow_up_kept_on"),
        ({"outcome": "cured"}, "outcome"),
        ({"procedure": "   "}, "procedure"),
        ({"procedure": "x" * 201}, "procedure"),
    ],
)
def test_a_bad_treatment_is_refused_before_the_database(clinic, kwargs, field):
    with hospital_context(clinic.hospital):
        with pytest.raises(ValidationFailed) as caught:
            treatment_add(visit=clinic.visit, **({"procedure": "Cast"} | kwargs))
        assert list(caught.value.fields) == [field]
        assert Treatment.all_objects.count() == 1
        assert events("create", "treatments") == []


def test_a_treatment_records_its_outcome_and_follow_up(clinic):
    with hospital_context(clinic.hospital):
        treatment_update(
            treatment=clinic.treatment,
            outcome="improved",
            follow_up_required=True,
            follow_up_date=T0.date() + 7 * DAY,
        )
        treatment_update(treatment=clinic.treatment, follow_up_kept_on=T0.date() + 8 * DAY)
        stored = Treatment.objects.get(pk=clinic.treatment.pk)
        assert (stored.outcome, stored.follow_up_date, stored.follow_up_kept_on) == (
            "improved",
            T0.date() + 7 * DAY,
            T0.date() + 8 * DAY,
        )
        assert len(events("update", "treatments")) == 2


def test_a_treatment_update_keeps_the_rules(clinic):
    with hospital_context(clinic.hospital):
        treatment_update(
            treatment=clinic.treatment, follow_up_required=True, follow_up_date=T0.date() + DAY
        )
        for changes, field in (
            ({"follow_up_required": False}, "follow_up_date"),
            ({"performed_on": T0.date() + 2 * DAY}, "follow_up_date"),
            ({"performed_on": T0.date() - DAY}, "performed_on"),
            ({"outcome": "cured"}, "outcome"),
            ({"performed_on": None}, "performed_on"),
        ):
            with pytest.raises(ValidationFailed) as caught:
                treatment_update(treatment=clinic.treatment, **changes)
            assert field in caught.value.fields, changes
        stored = Treatment.objects.get(pk=clinic.treatment.pk)
        assert (stored.follow_up_required, stored.performed_on, stored.outcome) == (
            True,
            T0.date(),
            "",
        )
        assert len(events("update", "treatments")) == 1


def test_a_voided_treatment_vanishes_and_cannot_be_changed(clinic):
    with hospital_context(clinic.hospital):
        treatment_void(treatment=clinic.treatment, reason="entered twice")
        assert not Treatment.objects.exists()
        assert Treatment.all_objects.get().void_reason == "entered twice"
        assert events("void", "treatments") == [str(clinic.treatment.pk)]
        with pytest.raises(BusinessRuleViolation, match="voided"):
            treatment_update(treatment=clinic.treatment, outcome="resolved")
