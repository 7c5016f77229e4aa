from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, connections, transaction

from hospitium.patients.models import Patient
from hospitium.staff.models import Practitioner
from hospitium.tenancy import stores
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.errors import HospitalReadOnly, HospitalStoreUnavailable
from hospitium.tenancy.provisioning import hospital_archive, hospital_create
from hospitium.tenancy.router import current_alias, current_side_alias
from tests import factories
from tests.storehelp import existing_stores, raw_execute, remove_store_behind_our_back

pytestmark = pytest.mark.django_db


def _pragma(name: str) -> object:
    with connections[current_alias(write=False)].cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


@pytest.mark.sqlite_only
def test_sqlite_foreign_keys_are_switched_on_for_hospital_connections(hospital_a):
    with hospital_context(hospital_a):
        assert _pragma("foreign_keys") == 1


def test_foreign_keys_are_enforced_in_a_hospital_store(hospital_a):
    with hospital_context(hospital_a):
        dept = factories.department()
        practitioner = Practitioner(display_name="Dr. Who", department_id=dept.pk)
        practitioner.department_id = "0190c5a4-0000-7000-8000-000000000000"
        with pytest.raises(IntegrityError), transaction.atomic(using=current_alias(write=True)):
            practitioner.save()
        assert Practitioner.objects.count() == 0


@pytest.mark.sqlite_only
def test_hospital_stores_use_wal_a_busy_timeout_and_immediate_transactions(hospital_a):
    with hospital_context(hospital_a):
        assert _pragma("journal_mode") == "wal"
        assert _pragma("busy_timeout") >= 1000
        connection = connections[current_alias(write=True)]
        assert connection.transaction_mode == "IMMEDIATE"


def test_readers_are_not_held_off_by_a_writer_holding_the_write_lock(hospital_a):
    import threading
    import time

    with hospital_context(hospital_a):
        factories.patient()
    holding, done = threading.Event(), threading.Event()

    def writer() -> None:
        try:
            with hospital_context(hospital_a), transaction.atomic(using=current_alias(write=True)):
                factories.patient()
                holding.set()
                done.wait(timeout=10)
        finally:
            stores.close_hospital_connections()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(timeout=10)
        began = time.monotonic()
        with hospital_context(hospital_a):
            assert Patient.objects.count() == 1  # the last committed state, at once
        assert time.monotonic() - began < 1.0
    finally:
        done.set()
        thread.join(timeout=10)


@pytest.mark.sqlite_only
def test_the_side_connection_is_another_writable_connection_to_the_same_store(hospital_a):
    with hospital_context(hospital_a):
        side = current_side_alias()
        assert side != current_alias(write=True)
        with connections[side].cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
        Patient.objects.using(side).create(
            mrn="SIDE1", given_name="Side", family_name="Door", birth_date="1990-01-01"
        )
        assert Patient.objects.filter(mrn="SIDE1").exists()


def test_hospital_aliases_are_not_listed_so_request_handlers_do_not_walk_them(
    hospital_a, hospital_b
):
    for hospital in (hospital_a, hospital_b):
        with hospital_context(hospital):
            Patient.objects.count()
    listed = list(connections)
    assert listed == ["default"]
    alias_a = stores.alias_for(hospital_a.as_ref())
    assert alias_a in connections.settings
    assert all(conn.alias == "default" for conn in connections.all())
    assert set(stores.open_aliases()) == {alias_a, stores.alias_for(hospital_b.as_ref())}


@pytest.mark.sqlite_only
def test_open_connections_per_thread_stay_within_the_bound(settings):
    settings.HOSPITIUM_MAX_OPEN_STORES = 3
    codes = [f"H{n:02d}" for n in range(8)]
    for code in codes:
        hospital_create(code=code, name=code, domains=[f"{code.lower()}.example.test"])
    for code in codes:
        with hospital_context(code):
            Patient.objects.count()
        opened = stores.open_aliases()
        assert len(opened) <= 3
        initialised = [a for a in opened if getattr(connections._connections, a, None) is not None]
        assert len(initialised) <= 3
    assert stores.open_aliases() == [f"hospital:{code}" for code in codes[-3:]]
    # A closed store opens again on demand.
    with hospital_context(codes[0]):
        assert Patient.objects.count() == 0


@pytest.mark.postgresql_only
def test_a_process_holds_one_connection_per_server_however_many_hospitals():
    codes = [f"H{n:02d}" for n in range(10)]
    for code in codes:
        hospital_create(code=code, name=code, domains=[f"{code.lower()}.example.test"])
    for code in codes:
        with hospital_context(code):
            factories.patient()
            assert Patient.objects.count() == 1
    assert sorted(stores.open_aliases()) == ["server:s1", "server:s2"]
    initialised = [a for a in stores.open_aliases() if stores.registry.connection_if_open(a)]
    assert len(initialised) <= 2


@pytest.mark.sqlite_only
def test_a_connection_inside_a_transaction_is_not_closed_by_the_bound(settings):
    settings.HOSPITIUM_MAX_OPEN_STORES = 1
    for code in ("H1", "H2"):
        hospital_create(code=code, name=code, domains=[f"{code.lower()}.example.test"])
    with hospital_context("H1"):
        with transaction.atomic(using=current_alias(write=True)):
            factories.patient()
            with hospital_context("H2"):
                Patient.objects.count()
            assert Patient.objects.count() == 1
        assert Patient.objects.count() == 1


def test_a_missing_store_is_a_clear_error_and_is_never_created(hospital_a):
    remove_store_behind_our_back("ALPHA")
    with hospital_context(hospital_a), pytest.raises(HospitalStoreUnavailable) as info:
        Patient.objects.count()
    assert "ALPHA" in info.value.message
    assert existing_stores() == []
    assert not stores.store_for(hospital_a.as_ref()).exists(hospital_a.as_ref())


def test_an_archived_hospital_reads_but_refuses_writes_even_through_raw_sql(hospital_a):
    with hospital_context(hospital_a):
        factories.patient(mrn="KEEP")
    hospital_archive(code="ALPHA")
    hospital_a.refresh_from_db()
    with hospital_context(hospital_a):
        assert list(Patient.objects.values_list("mrn", flat=True)) == ["KEEP"]
        with pytest.raises(HospitalReadOnly):
            factories.patient()
        with pytest.raises(HospitalReadOnly):
            Patient.objects.update(given_name="X")
        with pytest.raises(HospitalReadOnly):
            Patient.objects.all().delete()
        alias = current_alias(write=False)
        with (
            pytest.raises(DatabaseError, match=r"readonly|read-only"),
            transaction.atomic(using=alias),
            connections[alias].cursor() as cursor,
        ):
            cursor.execute("UPDATE patients_patient SET given_name = 'X'")
    assert raw_execute("ALPHA", "select given_name from patients_patient")[0][0] != "X"


@pytest.mark.sqlite_only
def test_the_platform_store_answers_for_hospital_aliases_without_listing_them():
    settings_map = connections.settings
    assert isinstance(settings_map, stores.LazyDatabases)
    config = settings_map["hospital:ZED"]
    assert config["NAME"].endswith("ZED.sqlite3?mode=rw")
    assert settings_map["hospital:ZED:ro"]["NAME"].endswith("?mode=ro")
    with pytest.raises(KeyError):
        settings_map["elsewhere"]
    assert "elsewhere" not in settings_map


@pytest.mark.sqlite_only
def test_the_end_of_a_request_looks_only_at_the_stores_it_used(monkeypatch):
    from hospitium.tenancy.stores import registry

    codes = [f"U{n}" for n in range(6)]
    for code in codes:
        hospital_create(code=code, name=code, domains=[f"{code.lower()}.example.test"])
        with hospital_context(code):
            Patient.objects.count()
    assert len(stores.open_aliases()) == 6
    looked_at: list[str] = []
    real = registry.connection_if_open
    monkeypatch.setattr(
        registry, "connection_if_open", lambda alias: looked_at.append(alias) or real(alias)
    )
    registry.on_request_started()
    with hospital_context("U3"):
        Patient.objects.count()
    registry.on_request_finished()
    assert looked_at == ["hospital:U3"]
    assert len(stores.open_aliases()) == 6  # still open for the next request
