"""Registering (the hospital's own MRN sequence), searching, voiding and the likely duplicates,
on both stores."""

from __future__ import annotations

import datetime as dt

import pytest

from hospitium.core.errors import BusinessRuleViolation, ValidationFailed
from hospitium.patients.models import MrnSequence, Patient
from hospitium.patients.selectors import (
    patient_likely_duplicates,
    patient_list,
    patient_search,
)
from hospitium.patients.services import patient_register, patient_update, patient_void
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.models import Hospital

pytestmark = pytest.mark.django_db

BORN = dt.date(1990, 12, 10)


def _register(given: str = "Ada", family: str = "Lovelace", **extra: object) -> Patient:
    return patient_register(given_name=given, family_name=family, birth_date=BORN, **extra)  # type: ignore[arg-type]


def test_a_patient_without_a_number_gets_the_next_of_the_hospitals_sequence(
    hospital_a: Hospital, hospital_b: Hospital
) -> None:
    with hospital_context(hospital_a):
        first, second = _register(), _register("Charles", "Babbage")
    with hospital_context(hospital_b):
        other = _register()
    assert (first.mrn, second.mrn) == ("P000001", "P000002")
    assert other.mrn == "P000001"  # each hospital has its own sequence


def test_the_hospitals_own_format_is_used(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        _register()
        MrnSequence.objects.filter(pk=1).update(prefix="AG-", digits=8)
        assert _register("Grace", "Hopper").mrn == "AG-00000002"


def test_a_number_given_by_hand_is_passed_over(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        _register(mrn="P000001")
        assert _register("Grace", "Hopper").mrn == "P000002"


def test_a_refused_registration_gives_its_number_back(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        with pytest.raises(ValidationFailed):
            patient_register(given_name="", family_name="X", birth_date=BORN)
        assert _register().mrn == "P000001"


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("lovel", True),
        ("LOVELACE ada", True),
        ("ovela", True),  # any part of a name
        ("000001", True),  # part of the MRN
        ("1990-12-10", True),
        ("10.12.1990", True),
        ("hopper", False),
        ("lo", False),  # too short to search
    ],
)
def test_search_finds_by_any_part_of_a_name_or_mrn_or_by_birth_date(
    hospital_a: Hospital, query: str, found: bool
) -> None:
    with hospital_context(hospital_a):
        ada = _register()
        patient_register(
            given_name="Charles", family_name="Babbage", birth_date=dt.date(1791, 12, 26)
        )
        assert (ada in patient_search(query)) is found


def test_search_follows_renames_and_forgets_voided_patients(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        ada = _register()
        patient_update(patient=ada, family_name="King")
        assert patient_search("lovelace") == []
        assert [p.pk for p in patient_search("king")] == [ada.pk]
        patient_void(patient=ada, reason="Registered twice")
        assert patient_search("king") == []


def test_search_does_not_see_another_hospitals_patients(
    hospital_a: Hospital, hospital_b: Hospital
) -> None:
    with hospital_context(hospital_a):
        _register()
    with hospital_context(hospital_b):
        assert patient_search("lovelace") == []


def test_search_treats_query_syntax_as_text(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        _register(given='Ada "x" OR', family="100%_done")
        assert len(patient_search('"x" OR')) == 1
        assert len(patient_search("100%_d")) == 1
        assert patient_search("0%_x") == []


def test_voiding_needs_a_reason_and_keeps_the_record(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        ada = _register()
        with pytest.raises(ValidationFailed):
            patient_void(patient=ada, reason=" ")
        voided = patient_void(patient=ada, reason="Wrong person")
        assert voided.void_reason == "Wrong person"
        assert not patient_list().filter(pk=ada.pk).exists()
        assert Patient.all_objects.filter(pk=ada.pk).exists()
        with pytest.raises(BusinessRuleViolation):
            patient_void(patient=ada, reason="again")


def test_likely_duplicates_have_the_birth_date_and_a_similar_name(hospital_a: Hospital) -> None:
    with hospital_context(hospital_a):
        ada = _register()
        swapped = _register("Lovelace", "Ada")
        _register("Grace", "Hopper")
        patient_register(given_name="Ada", family_name="Lovelace", birth_date=dt.date(1991, 1, 1))
        found = patient_likely_duplicates(
            given_name="Adah", family_name="Lovelace", birth_date=BORN
        )
    assert {p.pk for p in found} == {ada.pk, swapped.pk}


@pytest.mark.postgresql_only
def test_a_new_hospitals_schema_has_the_trigram_index_search_uses(hospital_a: Hospital) -> None:
    from tests import storehelp

    rows = storehelp.raw_execute(
        "ALPHA",
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'patient_search_trgm' "
        "AND schemaname = current_schema()",
    )
    assert len(rows) == 1
    assert "gin_trgm_ops" in rows[0][0]
    assert "(given_name)::text || ' '::text) || (family_name)::text)" in rows[0][0]


def test_a_common_search_sorts_a_bounded_number_of_matches(hospital_a: Hospital) -> None:
    from hospitium.patients import selectors

    with hospital_context(hospital_a):
        for n in range(8):
            patient_register(given_name="Ann", family_name=f"Smith{n}", birth_date=BORN)
        every = patient_search("smith", limit=50)
        assert len(every) == 8
        assert [p.family_name for p in every] == sorted(p.family_name for p in every)
        original = selectors.MAX_CANDIDATES
        selectors.MAX_CANDIDATES = 3
        try:
            assert len(patient_search("smith", limit=50)) == 3
        finally:
            selectors.MAX_CANDIDATES = original
