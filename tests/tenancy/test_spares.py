"""The warm pool of spare schemas (PostgreSQL): a hospital renamed from a spare is the same as
a cloned one; stale spares are never taken and are dropped; concurrent provisioners skip a
spare another transaction holds; failures put the spare back. On SQLite there is no pool."""

from __future__ import annotations

import json
import threading
import time
from io import StringIO
from typing import Any

import psycopg
import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import transaction
from psycopg import sql

from hospitium.encounters.models import Icd10Code
from hospitium.patients.models import Patient
from hospitium.tenancy import migration, provisioning, stores
from hospitium.tenancy.context import HospitalRef, hospital_context
from hospitium.tenancy.errors import ProvisioningFailed
from hospitium.tenancy.models import Hospital
from hospitium.tenancy.provisioning import hospital_create
from hospitium.tenancy.spares import spares_list, spares_refill
from hospitium.tenancy.stores import postgresql
from tests import factories
from tests.storehelp import (
    existing_stores,
    raw_execute,
    schema_signature,
    spare_schemas,
)

pytestmark = pytest.mark.django_db

STALE = "spare_eeeeeeeeeeeeeeee_00000000"


def _url(server: str) -> str:
    return str(django_settings.HOSPITIUM_HOSPITAL_SERVERS[server])


def _store(server: str) -> postgresql.PostgresStore:
    store = stores.store_for_server(server)
    assert isinstance(store, postgresql.PostgresStore)
    return store


def _ref(code: str, server: str = "s1") -> HospitalRef:
    return HospitalRef(
        id=0,
        code=code,
        name=code,
        status="active",
        server=server,
        store_name=postgresql.schema_name(code),
    )


def _sequences(code: str) -> list[tuple[Any, ...]]:
    hospital = Hospital.objects.get(code=code)
    return raw_execute(
        code,
        "select sequencename, last_value from pg_sequences where schemaname = %s order by 1",
        (hospital.store_name,),
    )


def _functions(code: str) -> list[tuple[str, str]]:
    """The store's functions (trigger functions and helpers), with its own name taken out."""
    schema = Hospital.objects.get(code=code).store_name
    rows = raw_execute(
        code,
        "select p.proname, pg_get_functiondef(p.oid) from pg_proc p "
        "join pg_namespace n on n.oid = p.pronamespace where n.nspname = %s order by 1, 2",
        (schema,),
    )
    return [(name, definition.replace(schema, "S")) for name, definition in rows]


def _plant_stale_spare(server: str) -> None:
    """A complete spare whose name says it was built for other migrations."""
    built = _store(server).refill_spares(1).built
    with psycopg.connect(_url(server), autocommit=True) as raw:
        raw.execute(f'ALTER SCHEMA "{built[0]}" RENAME TO "{STALE}"')


@pytest.mark.postgresql_only
def test_a_hospital_from_a_spare_has_the_schema_and_data_of_a_cloned_one(settings):
    settings.HOSPITIUM_PG_SPARE_SCHEMAS = 0
    cloned = hospital_create(code="CLONED", name="Cloned", domains=["cloned.example.test"])
    assert cloned.hospital.server == "s1" and spare_schemas("s1") == []

    settings.HOSPITIUM_PG_SPARE_SCHEMAS = 1
    [refill] = spares_refill(server="s2")
    assert len(refill.built) == 1 and refill.ready == refill.built
    spare = refill.built[0]
    spared = hospital_create(code="SPARED", name="Spared", domains=["spared.example.test"])
    assert spared.hospital.server == "s2"  # fewest hospitals: where the spare was

    after = spare_schemas("s2")
    assert spare not in after  # renamed into the hospital's schema …
    assert len(after) == 1  # … and the refill enqueued on commit (run at once here) replaced it
    assert schema_signature("SPARED") == schema_signature("CLONED")
    assert _functions("SPARED") == _functions("CLONED") != []
    # The identity sequences (django_migrations' here) stand where the template's do.
    assert _sequences("SPARED") == _sequences("CLONED") != []
    migrations = "select id, app, name from django_migrations order by id"
    assert raw_execute("SPARED", migrations) == raw_execute("CLONED", migrations) != []
    spared_ref, cloned_ref = spared.hospital.as_ref(), cloned.hospital.as_ref()
    assert stores.store_for(spared_ref).row_counts(spared_ref) == stores.store_for(
        cloned_ref
    ).row_counts(cloned_ref)
    template = _store("s2").ensure_template()
    with psycopg.connect(_url("s2"), autocommit=True) as raw:
        row = raw.execute(
            sql.SQL("select count(*) from {}.{}").format(
                sql.Identifier(template), sql.Identifier(Icd10Code._meta.db_table)
            )
        ).fetchone()
    assert row is not None and row[0] > 0
    for hospital in (spared.hospital, cloned.hospital):
        with hospital_context(hospital):
            assert Icd10Code.objects.count() == row[0]
            factories.patient()
            assert Patient.objects.count() == 1


@pytest.mark.postgresql_only
def test_a_stale_spare_is_never_taken_and_the_refill_drops_it(settings):
    settings.HOSPITIUM_PG_SPARE_SCHEMAS = 1
    _plant_stale_spare("s1")
    [pool] = spares_list(server="s1")
    assert pool.stale == [STALE] and pool.ready == []

    hospital = hospital_create(code="FRESH", name="Fresh", domains=["fresh.example.test"]).hospital
    assert hospital.server == "s1"
    assert spare_schemas("s1") == [STALE]  # cloned, not taken: nothing to refill either
    with hospital_context(hospital):
        factories.patient()

    [refill] = spares_refill(server="s1")
    assert refill.dropped == [STALE] and len(refill.built) == 1
    assert spare_schemas("s1") == refill.ready == refill.built
    assert refill.ready[0].startswith(postgresql.spare_prefix())


@pytest.mark.postgresql_only
def test_a_spare_held_by_another_transaction_is_skipped_without_waiting(settings):
    settings.HOSPITIUM_PG_SPARE_SCHEMAS = 2
    store = _store("s1")
    first, second = store.refill_spares(2).ready
    holder = psycopg.connect(_url("s1"))
    release = threading.Timer(5.0, holder.rollback)
    try:
        holder.execute(
            "select pg_advisory_xact_lock(%s, hashtext(%s))", (postgresql._SPARE_LOCK, first)
        )
        release.start()
        started = time.monotonic()
        store.create(_ref("TAKER"))
        assert time.monotonic() - started < 4.0  # never waited for the held spare
        remaining = spare_schemas("s1")
        assert first in remaining and second not in remaining
        assert len(remaining) == 2  # the refill built one more (and kept the held one)

        # Every spare held: the provisioner clones, still without waiting.
        for name in remaining:
            holder.execute(
                "select pg_advisory_xact_lock(%s, hashtext(%s))", (postgresql._SPARE_LOCK, name)
            )
        started = time.monotonic()
        store.create(_ref("CLONER"))
        assert time.monotonic() - started < 4.0
        assert spare_schemas("s1") == remaining
        assert store.schema_exists("hospital_cloner") and store.schema_exists("hospital_taker")
    finally:
        release.cancel()
        holder.close()


@pytest.mark.postgresql_only
def test_a_listed_spare_that_is_gone_once_locked_is_passed_over(settings, monkeypatch):
    # What a provisioner sees when another one took the spare and committed between this one's
    # listing and its lock: a name that no longer exists. Here the listing offers a ghost first.
    store = _store("s1")
    [spare] = store.refill_spares(1).ready
    ghost = postgresql.spare_prefix() + "00ghost0"
    monkeypatch.setattr(
        postgresql,
        "_CLAIM",
        # The ghost comes first (order 0); the rest is the real listing, without the lock.
        "SELECT nspname FROM ("  # noqa: S608 (the test's own constant name)
        f"  SELECT '{ghost}'::text AS nspname, 0 AS o UNION ALL"
        "  SELECT nspname::text, 1 FROM pg_catalog.pg_namespace WHERE nspname LIKE %s"
        ") candidates WHERE NOT nspname = ANY(%s::text[]) AND %s IS NOT NULL "
        "ORDER BY o, nspname LIMIT 1",
    )
    with transaction.atomic(using=store.server_alias):
        assert store._take_spare("hospital_ghostly") == spare
    assert store.schema_exists("hospital_ghostly") and spare_schemas("s1") == []


@pytest.mark.postgresql_only
def test_a_held_spare_is_not_dropped_by_a_refill(settings):
    settings.HOSPITIUM_PG_SPARE_SCHEMAS = 1
    _plant_stale_spare("s1")
    with psycopg.connect(_url("s1")) as holder:
        holder.execute(
            "select pg_advisory_xact_lock(%s, hashtext(%s))", (postgresql._SPARE_LOCK, STALE)
        )
        refill = _store("s1").refill_spares(1)
        assert refill.busy == [STALE] and refill.dropped == []
        holder.rollback()
    assert _store("s1").refill_spares(1).dropped == [STALE]


@pytest.mark.postgresql_only
def test_two_refills_at_once_build_no_more_than_the_target(settings):
    store = _store("s1")
    results: list[Any] = []

    def refill() -> None:
        try:
            results.append(store.refill_spares(2))
        finally:
            stores.close_hospital_connections()

    threads = [threading.Thread(target=refill) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2
    assert sum(len(result.built) for result in results) == 2
    assert len(spare_schemas("s1")) == 2


@pytest.mark.postgresql_only
def test_a_failure_after_the_rename_puts_the_spare_back_and_leaves_no_schema(settings, monkeypatch):
    settings.HOSPITIUM_PG_SPARE_SCHEMAS = 1
    [spare] = _store("s1").refill_spares(1).built
    before = existing_stores()
    seen: list[str] = []

    def fail_after_the_rename(step: str) -> None:
        seen.append(step)
        if step == "spare taken":
            raise OSError("injected failure after the rename")

    monkeypatch.setattr(postgresql, "_checkpoint", fail_after_the_rename)
    with pytest.raises(ProvisioningFailed, match="nothing was left behind"):
        hospital_create(code="FRAGILE", name="Fragile", domains=["fragile.example.test"])
    assert seen == ["spare taken"]
    assert spare_schemas("s1") == [spare]
    assert existing_stores() == before
    assert not Hospital.objects.filter(code="FRAGILE").exists()

    monkeypatch.undo()
    hospital = hospital_create(code="FRAGILE", name="Fragile", domains=["fragile.example.test"])
    assert spare not in spare_schemas("s1")  # the same spare, taken this time
    with hospital_context(hospital.hospital):
        factories.patient()


@pytest.mark.postgresql_only
@pytest.mark.parametrize("step", ["admin", "activate"])
def test_a_later_provisioning_failure_removes_the_renamed_spare(settings, monkeypatch, step):
    settings.HOSPITIUM_PG_SPARE_SCHEMAS = 1
    [spare] = _store("s1").refill_spares(1).built
    before = existing_stores()

    def fail_at(name: str) -> None:
        if name == step:
            raise OSError(f"injected failure at {name}")

    monkeypatch.setattr(provisioning, "_checkpoint", fail_at)
    with pytest.raises(ProvisioningFailed):
        hospital_create(
            code="LATE",
            name="Late",
            domains=["late.example.test"],
            admin_email="a@late.example.test",
        )
    assert existing_stores() == before  # the hospital schema (the spare) was dropped
    after = spare_schemas("s1")
    assert spare not in after and len(after) == 1  # taken, then replaced by the refill


@pytest.mark.postgresql_only
def test_with_the_pool_off_provisioning_clones_and_a_refill_empties_it(settings):
    settings.HOSPITIUM_PG_SPARE_SCHEMAS = 1
    [spare] = _store("s1").refill_spares(1).built
    settings.HOSPITIUM_PG_SPARE_SCHEMAS = 0
    hospital_create(code="PLAIN", name="Plain", domains=["plain.example.test"])
    assert spare_schemas("s1") == [spare]
    [refill] = spares_refill(server="s1")
    assert refill.dropped == [spare] and refill.ready == []
    assert spare_schemas("s1") == []


@pytest.mark.postgresql_only
def test_a_fleet_migration_prepares_the_pools_and_drops_stale_spares(settings):
    settings.HOSPITIUM_PG_SPARE_SCHEMAS = 1
    _plant_stale_spare("s2")
    result = migration.fleet_migrate(migrate_platform=False)
    assert result.spares_error == ""
    assert {pool.server: len(pool.ready) for pool in result.spares} == {"s1": 1, "s2": 1}
    assert [pool.dropped for pool in result.spares] == [[], [STALE]]
    for server in ("s1", "s2"):
        [name] = spare_schemas(server)
        assert name.startswith(postgresql.spare_prefix())
    # Spares are not hospitals: nothing lists or migrates them as one.
    assert existing_stores() == []
    assert result.checked == 0


@pytest.mark.postgresql_only
def test_the_spares_command_shows_and_fills_each_pool(settings):
    settings.HOSPITIUM_PG_SPARE_SCHEMAS = 1
    _plant_stale_spare("s1")
    out = StringIO()
    call_command("hospitals", "spares", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["SERVER", "TARGET", "READY", "STALE"]
    assert lines[1].split() == ["s1", "1", "0", "1"]
    assert lines[2].split() == ["s2", "1", "0", "0"]

    out = StringIO()
    call_command("hospitals", "spares", "--fill", "--json", stdout=out)
    rows = {row["server"]: row for row in json.loads(out.getvalue())}
    assert rows["s1"]["dropped"] == [STALE] and len(rows["s1"]["ready"]) == 1
    assert rows["s2"]["built"] == rows["s2"]["ready"] and rows["s2"]["stale"] == []


@pytest.mark.sqlite_only
def test_on_sqlite_there_is_no_pool_and_refilling_does_nothing(tmp_path):
    assert spares_list() == [] and spares_refill() == []
    assert migration.fleet_migrate(migrate_platform=False).spares == []
    out = StringIO()
    call_command("hospitals", "spares", "--fill", stdout=out)
    assert "no spare schemas" in out.getvalue()
    hospital = hospital_create(code="FILE", name="File", domains=["file.example.test"]).hospital
    assert hospital.store_name == "FILE.sqlite3"
