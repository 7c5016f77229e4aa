"""The encounters rules are the database's too: a write straight through the ORM that breaks one
is refused with an IntegrityError on both stores, and nothing is stored."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from hospitium.core.errors import Conflict
from hospitium.encounters.models import Diagnosis, Treatment, Visit
from hospitium.encounters.services import diagnosis_add
from hospitium.tenancy import stores
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.router import current_alias
from tests.encounters import factories as enc
from tests.encounters.factories import DAY, T0

pytestmark = pytest.mark.django_db


def refused(write: Callable[[], Any]) -> None:
    with pytest.raises(IntegrityError), transaction.atomic(using=current_alias(write=True)):
        write()


def test_a_visit_cannot_end_before_it_starts(clinic):
    with hospital_context(clinic.hospital):
        refused(lambda: enc.visit(started_at=T0, ended_at=T0 - dt.timedelta(minutes=1)))
        refused(lambda: Visit.objects.filter(pk=clinic.visit.pk).update(ended_at=T0 - DAY))
        enc.visit(started_at=T0, ended_at=T0)  # a zero-length visit is allowed
        assert Visit.all_objects.count() == 2
        assert Visit.objects.get(pk=clinic.visit.pk).ended_at is None


def test_a_visit_kind_outside_the_list_is_refused(clinic):
    with hospital_context(clinic.hospital):
        refused(lambda: enc.visit(kind="surgical"))
        refused(lambda: Visit.objects.filter(pk=clinic.visit.pk).update(kind="x"))
        assert Visit.objects.get(pk=clinic.visit.pk).kind == "medical"


@pytest.mark.parametrize("model", [Visit, Diagnosis, Treatment])
def test_a_void_needs_a_reason_and_a_reason_needs_a_void(clinic, model):
    with hospital_context(clinic.hospital):
        row = model.objects.get()
        refused(lambda: model.objects.filter(pk=row.pk).update(voided_at=timezone.now()))
        refused(lambda: model.objects.filter(pk=row.pk).update(void_reason="typo"))
        assert model.objects.filter(pk=row.pk).exists()


def test_a_visit_has_at_most_one_primary_diagnosis(clinic):
    with hospital_context(clinic.hospital):
        refused(lambda: enc.diagnosis(clinic.visit, code="I10", is_primary=True))
        second = enc.diagnosis(clinic.visit, code="I10", is_primary=False)
        refused(lambda: Diagnosis.objects.filter(pk=second.pk).update(is_primary=True))
        assert Diagnosis.objects.filter(visit=clinic.visit, is_primary=True).count() == 1


def test_a_voided_primary_diagnosis_frees_the_place(clinic):
    with hospital_context(clinic.hospital):
        Diagnosis.objects.filter(pk=clinic.diagnosis.pk).update(
            voided_at=timezone.now(), void_reason="wrong patient"
        )
        enc.diagnosis(clinic.visit, code="I10", is_primary=True)
        assert Diagnosis.all_objects.filter(visit=clinic.visit, is_primary=True).count() == 2


def test_a_diagnosis_code_cannot_be_empty(clinic):
    with hospital_context(clinic.hospital):
        refused(lambda: enc.diagnosis(clinic.visit, code=""))
        assert Diagnosis.objects.count() == 1


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"follow_up_required": True, "follow_up_date": T0.date() - DAY}, id="before"),
        pytest.param({"follow_up_date": T0.date() + DAY}, id="without-follow-up"),
        pytest.param({"follow_up_kept_on": T0.date() - DAY}, id="kept-before"),
        pytest.param({"outcome": "cured"}, id="outcome"),
        pytest.param({"procedure": ""}, id="procedure"),
    ],
)
def test_a_treatment_breaking_a_rule_is_refused(clinic, changes):
    with hospital_context(clinic.hospital):
        refused(lambda: enc.treatment(clinic.visit, **changes))
        refused(lambda: Treatment.objects.filter(pk=clinic.treatment.pk).update(**changes))
        assert Treatment.objects.count() == 1
        stored = Treatment.objects.get()
        assert (stored.outcome, stored.follow_up_date, stored.procedure) == ("", None, "Inhaler")


def test_a_treatment_keeping_the_rules_is_stored(clinic):
    with hospital_context(clinic.hospital):
        enc.treatment(
            clinic.visit,
            outcome="improved",
            follow_up_required=True,
            follow_up_date=T0.date(),
            follow_up_kept_on=T0.date() + DAY,
        )
        assert Treatment.objects.count() == 2


def test_two_concurrent_primary_diagnoses_end_with_exactly_one(hospital_a):
    with hospital_context(hospital_a):
        visit = enc.visit()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(code: str) -> None:
        try:
            with hospital_context(hospital_a):
                barrier.wait(timeout=10)
                diagnosis_add(visit=visit, code=code, is_primary=True)
            outcomes.append("added")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connections.close_all()
            stores.close_hospital_connections()

    threads = [threading.Thread(target=attempt, args=(code,)) for code in ("I10", "J45.0")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["added", "conflict"]
    with hospital_context(hospital_a):
        assert Diagnosis.objects.filter(visit=visit, is_primary=True).count() == 1
