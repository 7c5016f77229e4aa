"""A server connection's schema follows the current hospital, and stays right after a rollback,
an error, or when the pool hands out a connection another hospital used last."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, connections, transaction

from hospitium.patients.models import Patient
from hospitium.tenancy import stores
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.provisioning import hospital_create
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgresql_only]


@pytest.fixture
def same_server() -> tuple[str, str]:
    """Two hospitals on server s1 (placement puts every other one there)."""
    for code in ("ONE", "TWO", "THREE"):
        hospital_create(code=code, name=code, domains=[f"{code.lower()}.example.test"])
    return "ONE", "THREE"


def search_path(alias: str) -> str:
    with connections[alias].cursor() as cursor:
        cursor.execute("SHOW search_path")
        return cursor.fetchone()[0]


def test_two_hospitals_on_one_server_share_a_connection_but_not_their_rows(same_server):
    one, three = same_server
    with hospital_context(one):
        factories.patient(mrn="P-ONE")
        alias = stores.alias_for(_ref(one))
    with hospital_context(three):
        assert stores.alias_for(_ref(three)) == alias
        assert list(Patient.objects.values_list("mrn", flat=True)) == []
        factories.patient(mrn="P-THREE")
    with hospital_context(one):
        assert list(Patient.objects.values_list("mrn", flat=True)) == ["P-ONE"]


def _ref(code: str):
    from hospitium.tenancy.selectors import hospital_ref_by_code

    return hospital_ref_by_code(code)


def test_the_schema_is_right_after_a_rolled_back_transaction(same_server):
    one, three = same_server
    alias = stores.alias_for(_ref(one))
    with hospital_context(one):
        Patient.objects.count()
    with hospital_context(three):
        # The switch to THREE happens inside a transaction that is then rolled back, which
        # undoes the SET too: the connection must not believe it is still on THREE.
        with pytest.raises(RuntimeError), transaction.atomic(using=alias):
            factories.patient(mrn="ROLLED-BACK")
            raise RuntimeError("abort")
        assert search_path(alias).startswith('"hospital_three"')
        assert Patient.objects.count() == 0
        factories.patient(mrn="KEPT")
    with hospital_context(one):
        assert Patient.objects.count() == 0
    with hospital_context(three):
        assert list(Patient.objects.values_list("mrn", flat=True)) == ["KEPT"]


def test_the_schema_is_right_after_an_error_and_a_savepoint_rollback(same_server):
    one, three = same_server
    alias = stores.alias_for(_ref(one))
    with hospital_context(one):
        factories.patient(mrn="DUP")
    with hospital_context(three), transaction.atomic(using=alias):
        factories.patient(mrn="DUP")  # no clash: another hospital
        with pytest.raises(IntegrityError), transaction.atomic(using=alias):
            factories.patient(mrn="DUP")
        assert Patient.objects.filter(mrn="DUP").count() == 1
        with hospital_context(one):
            assert Patient.objects.filter(mrn="DUP").count() == 1
        assert search_path(alias).startswith('"hospital_three"')


def test_a_pooled_connection_last_used_for_another_hospital_is_switched(same_server):
    one, three = same_server
    alias = stores.alias_for(_ref(one))
    with hospital_context(one):
        factories.patient(mrn="FROM-ONE")
    # Hand the connection back to the pool while it still points at ONE …
    stores.close_hospital_connections()
    with hospital_context(three):
        # … and take one out for THREE: it must not see ONE's rows.
        assert Patient.objects.count() == 0
        assert search_path(alias).startswith('"hospital_three"')


def test_with_no_hospital_a_raw_query_finds_no_tables(same_server):
    one, _three = same_server
    alias = stores.alias_for(_ref(one))
    with hospital_context(one):
        Patient.objects.count()
    with (
        pytest.raises(DatabaseError, match="does not exist"),
        connections[alias].cursor() as cursor,
    ):
        cursor.execute("SELECT count(*) FROM patients_patient")


def test_an_archived_hospital_session_is_read_only_in_the_database(same_server):
    from hospitium.tenancy.provisioning import hospital_archive

    one, _three = same_server
    hospital_archive(code=one)
    with hospital_context(one):
        alias = stores.alias_for(_ref(one))
        with connections[alias].cursor() as cursor:
            cursor.execute("SHOW default_transaction_read_only")
            assert cursor.fetchone()[0] == "on"


def test_leaving_an_archived_hospital_for_a_writable_one_inside_a_transaction_writes(same_server):
    from hospitium.tenancy.provisioning import hospital_archive

    one, three = same_server
    hospital_archive(code=one)
    alias = stores.alias_for(_ref(three))
    with hospital_context(one):
        Patient.objects.count()  # the connection's session is now read-only
    with hospital_context(three), transaction.atomic(using=alias):
        factories.patient(mrn="WRITABLE")
    with hospital_context(three):
        assert Patient.objects.filter(mrn="WRITABLE").exists()
