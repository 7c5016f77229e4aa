from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from django.db import connections
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from hospitium.accounts.models import Membership, Role, User
from hospitium.core.currencies import default_currency
from hospitium.core.errors import ValidationFailed
from hospitium.patients.models import Patient
from hospitium.tenancy import migration, provisioning, stores
from hospitium.tenancy.context import hospital_context
from hospitium.tenancy.errors import (
    DomainTaken,
    HospitalCodeTaken,
    HospitalNotActive,
    InvalidDomain,
    InvalidHospitalCode,
    ProvisioningFailed,
    RepairNotNeeded,
)
from hospitium.tenancy.integrity import integrity_check
from hospitium.tenancy.models import Domain, Hospital, ProvisioningAttempt
from hospitium.tenancy.provisioning import (
    hospital_archive,
    hospital_create,
    hospital_repair,
)
from hospitium.tenancy.selectors import provisioning_stalled
from tests import factories
from tests.conftest import PASSWORD
from tests.storehelp import existing_stores, on_postgres, raw_execute

pytestmark = pytest.mark.django_db

STEPS = ["record", "store", "admin", "activate"]


def platform_snapshot(home: Path) -> dict[str, object]:
    """Everything provisioning could leave behind: platform rows and files under the home."""
    return {
        "hospitals": sorted(Hospital.objects.values_list("code", "status")),
        "domains": sorted(Domain.objects.values_list("host", flat=True)),
        "users": sorted(User.objects.values_list("email", flat=True)),
        "memberships": Membership.objects.count(),
        "stores": existing_stores(),
    }


def test_a_new_hospital_is_active_with_its_store_domains_and_admin(_isolated_home):
    result = hospital_create(
        code="NORTH_1",
        name="  North One  ",
        domains=["North.Example.test", "north-alt.example.test"],
        admin_email="Boss@North.Example.test",
    )
    hospital = result.hospital
    hospital.refresh_from_db()
    assert hospital.status == Hospital.Status.ACTIVE
    assert hospital.name == "North One"
    store = stores.store_for(hospital.as_ref())
    assert hospital.store_name == store.store_name("NORTH_1")
    assert hospital.store_name == ("hospital_north_1" if on_postgres() else "NORTH_1.sqlite3")
    assert hospital.migration_fingerprint == migration.hospital_fingerprint()
    assert store.exists(hospital.as_ref())
    assert list(hospital.domains.values_list("host", "is_primary")) == [
        ("north.example.test", True),
        ("north-alt.example.test", False),
    ]
    assert result.admin is not None and result.admin.email == "boss@north.example.test"
    assert result.admin_created and result.generated_password
    assert result.admin.check_password(result.generated_password)
    assert Membership.objects.filter(user=result.admin, hospital=hospital, role=Role.ADMIN).exists()
    with hospital_context(hospital):
        factories.patient()
        assert Patient.objects.count() == 1


def test_an_existing_user_becomes_admin_without_a_password_change(outsider):
    result = hospital_create(
        code="EAST", name="East", domains=["east.example.test"], admin_email=outsider.email
    )
    assert result.admin == outsider and not result.admin_created
    assert result.generated_password is None
    outsider.refresh_from_db()
    assert outsider.check_password("correct-horse-battery-staple")


@pytest.mark.parametrize(
    "code", ["", "A", "lower", "WITH-DASH", "WITH SPACE", "Ä1", "X" * 33, "AB\n", None]
)
def test_an_invalid_code_is_refused_and_nothing_is_created(code, _isolated_home):
    before = platform_snapshot(_isolated_home)
    with pytest.raises(InvalidHospitalCode) as info:
        hospital_create(code=code, name="X", domains=["x.example.test"])  # type: ignore[arg-type]
    assert "A–Z" in info.value.message
    assert platform_snapshot(_isolated_home) == before


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=40))
def test_any_code_outside_the_pattern_is_refused(code):
    if provisioning.CODE_PATTERN.fullmatch(code):
        assert provisioning.validate_code(code) == code
    else:
        with pytest.raises(InvalidHospitalCode):
            provisioning.validate_code(code)


@pytest.mark.parametrize(
    "domain",
    [
        "",
        "a\n.test",
        "http://x.example.test",
        "x.example.test:8000",
        "x..test",
        "-x.test",
        "x/y",
        "a b.test",
    ],
)
def test_an_invalid_domain_is_refused(domain, _isolated_home):
    before = platform_snapshot(_isolated_home)
    with pytest.raises(InvalidDomain):
        hospital_create(code="WEST", name="West", domains=[domain])
    assert platform_snapshot(_isolated_home) == before


def test_a_duplicate_code_is_refused_and_the_platform_is_unchanged(hospital_a, _isolated_home):
    before = platform_snapshot(_isolated_home)
    with pytest.raises(HospitalCodeTaken, match="ALPHA"):
        hospital_create(code="ALPHA", name="Other", domains=["other.example.test"])
    assert platform_snapshot(_isolated_home) == before


def test_a_domain_held_by_another_hospital_is_refused_naming_that_hospital(
    hospital_a, _isolated_home
):
    before = platform_snapshot(_isolated_home)
    with pytest.raises(DomainTaken) as info:
        hospital_create(
            code="OTHER",
            name="Other",
            domains=["fresh.example.test", "ALPHA.example.test"],
            admin_email="new-admin@example.test",
        )
    assert info.value.message == "Domain alpha.example.test is already used by hospital ALPHA."
    assert platform_snapshot(_isolated_home) == before


def test_a_domain_given_twice_is_refused(_isolated_home):
    with pytest.raises(InvalidDomain, match="twice"):
        hospital_create(code="TWICE", name="T", domains=["t.example.test", "T.example.test"])


def test_a_weak_admin_password_is_refused_before_anything_is_created(_isolated_home):
    before = platform_snapshot(_isolated_home)
    with pytest.raises(ValidationFailed, match="too weak"):
        hospital_create(
            code="WEAK",
            name="W",
            domains=["w.example.test"],
            admin_email="a@w.example.test",
            admin_password="123",
        )
    assert platform_snapshot(_isolated_home) == before


@pytest.mark.parametrize("step", STEPS)
def test_a_failure_at_any_step_leaves_nothing_behind(step, monkeypatch, _isolated_home):
    # The template exists before the snapshot: it is shared, not part of any one hospital.
    migration.ensure_template()
    before = platform_snapshot(_isolated_home)

    def fail_at(name: str) -> None:
        if name == step:
            raise OSError(f"injected failure at {name}")

    monkeypatch.setattr(provisioning, "_checkpoint", fail_at)
    with pytest.raises(ProvisioningFailed) as info:
        hospital_create(
            code="FRAGILE",
            name="Fragile",
            domains=["fragile.example.test"],
            admin_email="admin@fragile.example.test",
        )
    assert "nothing was left behind" in info.value.message
    assert isinstance(info.value.__cause__, OSError)
    assert platform_snapshot(_isolated_home) == before
    monkeypatch.undo()
    # The same hospital can then be created for real.
    assert hospital_create(
        code="FRAGILE", name="Fragile", domains=["fragile.example.test"]
    ).hospital


def test_a_failed_clean_up_marks_the_hospital_failed_and_repair_finishes_it(monkeypatch):
    def fail_at_admin(name: str) -> None:
        if name == "admin":
            raise OSError("disk vanished")

    def broken_remove(code: str) -> None:
        raise OSError("cannot remove")

    monkeypatch.setattr(provisioning, "_checkpoint", fail_at_admin)
    monkeypatch.setattr(provisioning, "_remove_store", broken_remove)
    with pytest.raises(ProvisioningFailed):
        hospital_create(code="HALF", name="Half", domains=["half.example.test"])
    monkeypatch.undo()
    hospital = Hospital.objects.get(code="HALF")
    assert hospital.status == Hospital.Status.FAILED
    assert "disk vanished" in hospital.status_reason and "cannot remove" in hospital.status_reason

    result = hospital_repair(code="HALF")
    assert result.action == "finished"
    hospital.refresh_from_db()
    assert hospital.status == Hospital.Status.ACTIVE and hospital.status_reason == ""
    assert hospital.migration_fingerprint == migration.hospital_fingerprint()
    with hospital_context(hospital):
        factories.patient()
        assert Patient.objects.count() == 1


def test_repair_recreates_a_missing_store_and_a_primary_domain_after_a_crash():
    # What a crash right after the platform rows were written leaves behind.
    hospital = Hospital.objects.create(
        code="CRASHED", name="Crashed", status="provisioning", store_name="CRASHED.sqlite3"
    )
    Domain.objects.create(hospital=hospital, host="crashed.example.test", is_primary=False)
    Hospital.objects.filter(pk=hospital.pk).update(
        updated_at=timezone.now() - dt.timedelta(minutes=10)
    )
    result = hospital_repair(code="crashed")
    assert "created the store from the template" in result.details
    assert "made crashed.example.test the primary domain" in result.details
    hospital.refresh_from_db()
    assert hospital.status == "active"
    with hospital_context(hospital):
        assert Patient.objects.count() == 0


def test_repair_migrates_a_store_copied_from_an_older_template(tmp_path):
    hospital = Hospital.objects.create(
        code="OLDIE", name="Old", status="failed", store_name="OLDIE.sqlite3"
    )
    empty = stores.store_path("OLDIE")
    empty.parent.mkdir(parents=True, exist_ok=True)
    import sqlite3

    sqlite3.connect(empty).close()  # an empty SQLite file: every migration is missing
    result = hospital_repair(code="OLDIE")
    assert any(detail.startswith("applied") for detail in result.details)
    with hospital_context(Hospital.objects.get(pk=hospital.pk)):
        assert Patient.objects.count() == 0


def test_repair_refuses_a_hospital_that_may_still_be_provisioning_unless_forced():
    Hospital.objects.create(
        code="BUSY", name="Busy", status="provisioning", store_name="BUSY.sqlite3"
    )
    with pytest.raises(RepairNotNeeded, match="moments ago"):
        hospital_repair(code="BUSY")
    assert hospital_repair(code="BUSY", force=True).action == "finished"


def test_repair_clean_removes_everything_of_a_failed_hospital(monkeypatch, _isolated_home):
    migration.ensure_template()
    before = platform_snapshot(_isolated_home)
    monkeypatch.setattr(
        provisioning,
        "_checkpoint",
        lambda name: (_ for _ in ()).throw(OSError("x")) if name == "activate" else None,
    )
    monkeypatch.setattr(
        provisioning, "_remove_store", lambda code: (_ for _ in ()).throw(OSError("y"))
    )
    with pytest.raises(ProvisioningFailed):
        hospital_create(code="GONE", name="Gone", domains=["gone.example.test"])
    monkeypatch.undo()
    assert Hospital.objects.get(code="GONE").status == "failed"
    assert hospital_repair(code="GONE", clean=True).action == "removed"
    assert platform_snapshot(_isolated_home) == before


def test_repair_of_an_active_hospital_is_refused(hospital_a):
    with pytest.raises(RepairNotNeeded, match="nothing to repair"):
        hospital_repair(code="ALPHA")


def test_archive_makes_only_that_hospital_read_only(hospital_a, hospital_b):
    archived = hospital_archive(code="alpha")
    assert archived.status == "archived" and archived.archived_at is not None
    with hospital_context(hospital_b):
        factories.patient()
    with pytest.raises(RepairNotNeeded, match="only an active hospital"):
        hospital_archive(code="ALPHA")


@pytest.mark.sqlite_only
def test_a_leftover_store_file_is_never_overwritten(_isolated_home):
    leftover = stores.store_path("LEFT")
    leftover.parent.mkdir(parents=True, exist_ok=True)
    leftover.write_bytes(b"precious")
    with pytest.raises(ProvisioningFailed, match="leftover store"):
        hospital_create(code="LEFT", name="Left", domains=["left.example.test"])
    assert leftover.read_bytes() == b"precious"
    assert not Hospital.objects.filter(code="LEFT").exists()


@pytest.mark.postgresql_only
def test_a_leftover_schema_is_never_overwritten(settings):
    import psycopg

    url = settings.HOSPITIUM_HOSPITAL_SERVERS["s1"]
    with psycopg.connect(url, autocommit=True) as raw:
        raw.execute('CREATE SCHEMA "hospital_left"')
        raw.execute('CREATE TABLE "hospital_left".precious (v text)')
        raw.execute("INSERT INTO \"hospital_left\".precious VALUES ('keep me')")
    with pytest.raises(ProvisioningFailed, match="leftover store"):
        hospital_create(code="LEFT", name="Left", domains=["left.example.test"])
    with psycopg.connect(url, autocommit=True) as raw:
        assert raw.execute('SELECT v FROM "hospital_left".precious').fetchall() == [("keep me",)]
    assert not Hospital.objects.filter(code="LEFT").exists()


@pytest.mark.sqlite_only
def test_the_template_is_rebuilt_when_the_migrations_change(monkeypatch, settings, tmp_path):
    from hospitium.tenancy.stores import sqlite

    settings.HOSPITIUM_TEMPLATE_DIR = tmp_path / "templates"
    first = Path(migration.ensure_template())
    monkeypatch.setattr(sqlite, "hospital_fingerprint", lambda: "f" * 64)
    second = Path(migration.ensure_template())
    assert first != second and first.exists() and second.exists()
    assert "ffffffff" in second.name
    assert shutil.disk_usage(second.parent)  # both present side by side


@pytest.mark.postgresql_only
def test_the_template_schema_is_rebuilt_when_the_migrations_change(monkeypatch):
    from hospitium.tenancy.stores import postgresql

    store = stores.store_for_server("s1")
    first = store.ensure_template()
    monkeypatch.setattr(postgresql, "hospital_fingerprint", lambda: "e" * 64)
    try:
        second = store.ensure_template()
        assert second == "template_" + "e" * 16 != first
        assert store.schema_exists(first) and store.schema_exists(second)
    finally:
        store._drop("template_" + "e" * 16)


@pytest.mark.postgresql_only
def test_no_hospital_code_can_name_a_template(monkeypatch):
    from hospitium.tenancy.stores import postgresql

    store = stores.store_for_server("s1")
    fingerprint = "ab12" * 16
    # A hospital whose code spells what the next deploy's template would have been called under
    # the old prefix ("hospital_tpl_<16 hex>"): its schema must never be taken for a template.
    code = "TPL_" + fingerprint[:16].upper()
    hospital = hospital_create(code=code, name="Tricky", domains=["tricky.example.test"]).hospital
    with hospital_context(hospital):
        factories.patient()
    monkeypatch.setattr(postgresql, "hospital_fingerprint", lambda: fingerprint)
    try:
        template = store.ensure_template()
        assert template != hospital.store_name
        assert not template.startswith(postgresql.SCHEMA_PREFIX)
        with connections[store.server_alias].cursor() as cursor:
            cursor.execute(f'SELECT count(*) FROM "{template}".patients_patient')  # noqa: S608 (our own name)
            assert cursor.fetchone()[0] == 0
    finally:
        store._drop("template_" + fingerprint[:16])


@pytest.mark.postgresql_only
def test_a_cloned_schema_keeps_the_template_names_of_constraints_and_indexes(hospital_a):
    ref = hospital_a.as_ref()
    store = stores.store_for(ref)
    template = store.ensure_template()

    def catalog(schema: str) -> set[tuple[str, str, str]]:
        rows = raw_execute(
            "ALPHA",
            """
            select cl.relname, con.conname, con.contype::text from pg_constraint con
            join pg_class cl on cl.oid = con.conrelid join pg_namespace n on n.oid = cl.relnamespace
            where n.nspname = %s
            union all
            select t.relname, ic.relname, 'index' from pg_index i
            join pg_class ic on ic.oid = i.indexrelid join pg_class t on t.oid = i.indrelid
            join pg_namespace n on n.oid = t.relnamespace where n.nspname = %s
            """,
            (schema, schema),
        )
        return {tuple(row) for row in rows}

    assert catalog(ref.store_name) == catalog(template)
    assert len(catalog(template)) > 10
    # Foreign keys point inside the clone, not back into the template.
    definitions = raw_execute(
        "ALPHA",
        "select pg_get_constraintdef(con.oid) from pg_constraint con "
        "join pg_namespace n on n.oid = con.connamespace where n.nspname = %s and contype = 'f'",
        (ref.store_name,),
    )
    assert definitions and all(template not in d for (d,) in definitions)
    assert raw_execute("ALPHA", "select count(*) from django_migrations")[0][0] > 0


def _dead_pid() -> int:
    import subprocess

    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def _cut_short_at_admin(monkeypatch, code: str = "CUT") -> Hospital:
    """What a kill -9 right after the store was made leaves: no clean-up ran."""

    def die_at_admin(name: str) -> None:
        if name == "admin":
            raise OSError("killed")

    monkeypatch.setattr(provisioning, "_checkpoint", die_at_admin)
    monkeypatch.setattr(provisioning, "_undo", lambda attempt, cause: None)
    with pytest.raises(ProvisioningFailed):
        hospital_create(
            code=code,
            name="Cut Short",
            domains=[f"{code.lower()}.example.test"],
            admin_email=f"Boss@{code}.example.test",
        )
    monkeypatch.undo()
    return Hospital.objects.get(code=code)


def test_provisioning_records_its_process_and_admin_email_and_forgets_them_when_done(
    monkeypatch,
):
    hospital = _cut_short_at_admin(monkeypatch)
    attempt = ProvisioningAttempt.objects.get(hospital=hospital)
    assert (attempt.admin_email, attempt.currency, attempt.pid, attempt.step) == (
        "boss@cut.example.test",
        default_currency(),
        os.getpid(),
        "settings written",
    )
    assert not ProvisioningAttempt.objects.exclude(hospital=hospital).exists()
    made = hospital_create(code="WHOLE", name="Whole", domains=["whole.example.test"])
    assert not ProvisioningAttempt.objects.filter(hospital=made.hospital).exists()


def test_a_provisioning_whose_process_is_alive_is_neither_reported_nor_repaired(monkeypatch):
    hospital = _cut_short_at_admin(monkeypatch)
    assert provisioning_stalled(hospital) is None
    assert integrity_check() == []
    with pytest.raises(RepairNotNeeded, match=f"still in progress \\(process {os.getpid()} on"):
        hospital_repair(code="CUT")


def test_a_provisioning_whose_process_is_gone_is_reported_and_repaired_with_its_admin(
    monkeypatch,
):
    hospital = _cut_short_at_admin(monkeypatch)
    ProvisioningAttempt.objects.filter(hospital=hospital).update(pid=_dead_pid())
    [finding] = integrity_check()
    assert (finding.store, finding.kind) == ("CUT", "provisioning_unfinished")
    assert "is gone (last step done: settings written)" in finding.detail
    assert "hospitium hospitals repair CUT" in finding.detail

    result = hospital_repair(code="CUT")
    assert result.action == "finished" and "made boss@cut.example.test its admin" in result.details
    assert result.admin is not None and result.admin_created
    assert result.generated_password and result.admin.check_password(result.generated_password)
    assert Membership.objects.filter(user=result.admin, hospital=hospital, role="admin").exists()
    hospital.refresh_from_db()
    assert hospital.status == "active"
    assert not ProvisioningAttempt.objects.filter(hospital=hospital).exists()
    assert integrity_check() == []


def test_repair_gives_the_new_admin_the_password_asked_for_and_refuses_a_weak_one(monkeypatch):
    hospital = _cut_short_at_admin(monkeypatch)
    ProvisioningAttempt.objects.filter(hospital=hospital).update(pid=_dead_pid())
    with pytest.raises(ValidationFailed, match="too weak"):
        hospital_repair(code="CUT", admin_password="123")
    result = hospital_repair(code="CUT", admin_password="a-long-and-fine-password-9")
    assert result.generated_password is None
    assert result.admin is not None and result.admin.check_password("a-long-and-fine-password-9")


def test_repair_makes_an_existing_user_admin_without_touching_their_password(monkeypatch, outsider):
    hospital = _cut_short_at_admin(monkeypatch)
    ProvisioningAttempt.objects.filter(hospital=hospital).update(
        pid=_dead_pid(), admin_email=outsider.email
    )
    result = hospital_repair(code="CUT", admin_password="ignored-for-an-existing-user")
    assert result.admin == outsider and not result.admin_created
    assert result.generated_password is None
    outsider.refresh_from_db()
    assert outsider.check_password(PASSWORD)


def test_a_provisioning_from_another_machine_is_reported_once_it_is_old(monkeypatch):
    hospital = _cut_short_at_admin(monkeypatch)
    ProvisioningAttempt.objects.filter(hospital=hospital).update(host="elsewhere")
    assert integrity_check() == []
    ProvisioningAttempt.objects.filter(hospital=hospital).update(
        started_at=timezone.now() - provisioning.STALE_PROVISIONING - dt.timedelta(minutes=1)
    )
    [finding] = integrity_check(code="CUT")
    assert "has been provisioning for 3 minutes" in finding.detail


def test_a_failed_hospital_is_reported_by_the_integrity_check(monkeypatch):
    def fail_at_admin(name: str) -> None:
        if name == "admin":
            raise OSError("disk vanished")

    monkeypatch.setattr(provisioning, "_checkpoint", fail_at_admin)
    monkeypatch.setattr(
        provisioning, "_remove_store", lambda ref: (_ for _ in ()).throw(OSError("y"))
    )
    with pytest.raises(ProvisioningFailed):
        hospital_create(code="HALF", name="Half", domains=["half.example.test"])
    monkeypatch.undo()
    [finding] = integrity_check()
    assert (finding.store, finding.kind) == ("HALF", "provisioning_unfinished")
    assert "the hospital is failed" in finding.detail and "disk vanished" in finding.detail


def test_of_two_repairs_of_one_hospital_only_one_goes_ahead(monkeypatch):
    hospital = _cut_short_at_admin(monkeypatch)
    ProvisioningAttempt.objects.filter(hospital=hospital).update(pid=_dead_pid())
    # Both repairs read the attempt before either took it over.
    first, second = (ProvisioningAttempt.objects.get(hospital=hospital) for _ in range(2))
    provisioning._take_over(hospital, first)
    with pytest.raises(RepairNotNeeded, match="Another process has just started repairing"):
        provisioning._take_over(hospital, second)


@pytest.mark.parametrize("status", ["provisioning", "failed"])
def test_an_unfinished_hospital_cannot_be_entered_except_for_maintenance(monkeypatch, status):
    hospital = _cut_short_at_admin(monkeypatch)
    Hospital.objects.filter(pk=hospital.pk).update(status=status)
    hospital.refresh_from_db()
    with pytest.raises(HospitalNotActive, match="its provisioning has not finished"):
        hospital_context(hospital)
    with pytest.raises(HospitalNotActive):
        hospital_context("CUT")
    with hospital_context(hospital, maintenance=True):
        assert Patient.objects.count() == 0
