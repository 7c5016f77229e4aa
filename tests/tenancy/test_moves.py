from __future__ import annotations

import pytest

from hospitium.patients.models import Patient
from hospitium.tenancy import stores
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.errors import HospitalReadOnly, MoveRefused
from hospitium.tenancy.models import Hospital
from hospitium.tenancy.moves import hospital_move
from hospitium.tenancy.stores.postgresql import PostgresStore
from tests import factories
from tests.storehelp import existing_stores, raw_execute

pytestmark = [pytest.mark.django_db, pytest.mark.postgresql_only]


def patients(code: str) -> list[tuple]:
    with hospital_context(code):
        return sorted(Patient.objects.values_list("id", "mrn", "given_name", "registered_by_id"))


@pytest.fixture
def alpha_on_s1(hospital_a, doctor_a):
    assert hospital_a.server == "s1"
    with hospital_context(hospital_a):
        for _ in range(7):
            factories.patient(registered_by=doctor_a)
    return hospital_a


def test_a_hospital_moves_to_another_server_with_identical_data(alpha_on_s1):
    before = patients("ALPHA")
    result = hospital_move(code="ALPHA", to_server="s2")
    assert (result.source, result.target) == ("s1", "s2")
    assert result.rows >= 7
    hospital = Hospital.objects.get(code="ALPHA")
    assert (hospital.server, hospital.locked_reason) == ("s2", "")
    assert existing_stores() == ["s2/hospital_alpha"]
    assert patients("ALPHA") == before
    with hospital_context("ALPHA"):
        factories.patient(mrn="AFTER-MOVE")
    assert raw_execute("ALPHA", "select count(*) from patients_patient") == [(8,)]


def test_the_hospital_is_read_only_while_it_moves(alpha_on_s1, monkeypatch):
    seen: list[str] = []
    real_restore = PostgresStore.restore

    def restore_and_try_to_write(self, ref, source):
        with hospital_context("ALPHA"), pytest.raises(HospitalReadOnly, match="maintenance"):
            factories.patient(mrn="DURING-MOVE")
        seen.append("refused")
        return real_restore(self, ref, source)

    monkeypatch.setattr(PostgresStore, "restore", restore_and_try_to_write)
    hospital_move(code="ALPHA", to_server="s2")
    assert seen == ["refused"]
    with hospital_context("ALPHA"):
        assert not Patient.objects.filter(mrn="DURING-MOVE").exists()


def test_a_failed_move_leaves_the_hospital_where_it_was_and_writable(alpha_on_s1, monkeypatch):
    before = patients("ALPHA")

    def broken_counts(self, ref):
        return {"patients_patient": -1} if ref.server == "s2" else real_counts(self, ref)

    real_counts = PostgresStore.row_counts
    monkeypatch.setattr(PostgresStore, "row_counts", broken_counts)
    with pytest.raises(MoveRefused, match="does not match the original"):
        hospital_move(code="ALPHA", to_server="s2")
    hospital = Hospital.objects.get(code="ALPHA")
    assert (hospital.server, hospital.locked_reason) == ("s1", "")
    assert existing_stores() == ["s1/hospital_alpha"]
    assert patients("ALPHA") == before
    with hospital_context("ALPHA"):
        factories.patient(mrn="STILL-WRITABLE")


@pytest.mark.parametrize(
    ("server", "message"),
    [("nowhere", "There is no server 'nowhere'"), ("s1", "already on s1")],
)
def test_a_move_to_an_unknown_or_the_same_server_is_refused(alpha_on_s1, server, message):
    with pytest.raises(MoveRefused, match=message):
        hospital_move(code="ALPHA", to_server=server)
    assert Hospital.objects.get(code="ALPHA").server == "s1"


def test_a_move_onto_a_leftover_schema_is_refused(alpha_on_s1):
    target = stores.store_for_server("s2")
    with target._connection().cursor() as cursor:
        cursor.execute('CREATE SCHEMA "hospital_alpha"')
    try:
        with pytest.raises(MoveRefused, match="already has a schema"):
            hospital_move(code="ALPHA", to_server="s2")
        assert Hospital.objects.get(code="ALPHA").server == "s1"
    finally:
        target._drop("hospital_alpha")


def test_new_hospitals_go_to_the_server_with_the_fewest(alpha_on_s1, hospital_b):
    from hospitium.tenancy.provisioning import hospital_create

    assert hospital_b.server == "s2"
    hospital_move(code="ALPHA", to_server="s2")
    third = hospital_create(code="CHARLIE", name="C", domains=["c.example.test"]).hospital
    assert third.server == "s1"


def test_with_the_routing_cache_on_a_moved_hospital_is_reached_on_its_new_server(
    alpha_on_s1, settings
):
    from hospitium.tenancy import selectors

    settings.HOSPITIUM_TENANT_CACHE_SECONDS = 5
    selectors.forget_cached_hospitals()
    before = selectors.hospital_ref_by_code("ALPHA", cached=True)
    assert stores.alias_for(before) == "server:s1"  # worked out and kept on the cached ref
    expected = patients("ALPHA")
    hospital_move(code="ALPHA", to_server="s2")
    after = selectors.hospital_ref_by_code("ALPHA", cached=True)
    assert stores.alias_for(after) == "server:s2"
    with hospital_context(after):
        assert (
            sorted(Patient.objects.values_list("id", "mrn", "given_name", "registered_by_id"))
            == expected
        )
        factories.patient(mrn="AFTER-MOVE")
    assert raw_execute("ALPHA", "select count(*) from patients_patient") == [(8,)]
    selectors.forget_cached_hospitals()
