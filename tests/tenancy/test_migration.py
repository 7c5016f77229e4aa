from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from hospitium.tenancy import fingerprint, migration, stores
from hospitium.tenancy.models import Hospital
from hospitium.tenancy.provisioning import hospital_archive, hospital_create
from tests.storehelp import (
    column_names,
    raw_execute,
    remove_store_behind_our_back,
    schema_signature,
    table_names,
)

pytestmark = pytest.mark.django_db

SOURCE = Path(migration.__file__).resolve().parents[1] / "patients" / "migrations"

NEXT_MIGRATION = """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("patients", "0001_initial")]

    operations = [
        migrations.AddField("patient", "nickname", models.CharField(max_length=50, null=True)),
        migrations.CreateModel(
            "Note",
            fields=[
                ("id", models.BigAutoField(primary_key=True)),
                ("text", models.TextField()),
            ],
        ),
    ]
"""


#: A migration that reaches further: a foreign key into the new table's owner, an index, and a
#: changed column (on SQLite, a rebuild of a table that other tables' foreign keys point at).
WIDER_MIGRATION = """
from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    dependencies = [("patients", "0001_initial")]

    operations = [
        migrations.AlterField("patient", "family_name", models.CharField(max_length=151)),
        migrations.CreateModel(
            "Note",
            fields=[
                ("id", models.BigAutoField(primary_key=True)),
                ("text", models.TextField()),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, to="patients.patient"
                    ),
                ),
            ],
        ),
        migrations.AddIndex("note", models.Index(fields=["text"], name="note_text_idx")),
    ]
"""


def _shipper(
    tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch, text: str
) -> Iterator[Callable[[], None]]:
    name = f"patients_next_{uuid.uuid4().hex[:8]}"
    package = tmp_path / "migration_packages" / name
    package.mkdir(parents=True)
    for source in SOURCE.glob("*.py"):
        shutil.copy(source, package / source.name)
    # The new migration follows the latest one, as a real one would: branching from an older
    # migration would let stores apply the two branches in different orders, and a later
    # migration that rebuilds patients_patient on SQLite (0007) makes the order show.
    latest = sorted(p.stem for p in SOURCE.glob("0*.py"))[-1]
    (package / "0002_note.py").write_text(text.replace('"0001_initial"', f'"{latest}"'))
    monkeypatch.syspath_prepend(str(tmp_path / "migration_packages"))

    def deploy() -> None:
        settings.MIGRATION_MODULES = {"patients": name}
        migration.hospital_fingerprint.cache_clear()

    yield deploy
    migration.hospital_fingerprint.cache_clear()


@pytest.fixture
def ship_new_migration(tmp_path, settings, monkeypatch) -> Iterator[Callable[[], None]]:
    """Returns a function that 'deploys' a new patients migration (0002: a column and a table)."""
    yield from _shipper(tmp_path, settings, monkeypatch, NEXT_MIGRATION)


@pytest.fixture
def ship_wider_migration(tmp_path, settings, monkeypatch) -> Iterator[Callable[[], None]]:
    """Like ship_new_migration, with WIDER_MIGRATION."""
    yield from _shipper(tmp_path, settings, monkeypatch, WIDER_MIGRATION)


def create(*codes: str) -> None:
    for code in codes:
        hospital_create(code=code, name=code.title(), domains=[f"{code.lower()}.example.test"])


def columns(code: str) -> set[str]:
    return column_names(code, "patients_patient")


def tables(code: str) -> set[str]:
    return table_names(code)


def test_a_deploy_with_nothing_to_do_touches_no_hospital(monkeypatch):
    create("ONE", "TWO")
    touched: list[str] = []
    monkeypatch.setattr(migration, "migrate_hospital_store", lambda code: touched.append(code))
    result = migration.fleet_migrate(migrate_platform=False)
    assert (result.checked, result.behind, result.results, touched) == (2, 0, [], [])
    assert result.ok


@pytest.mark.parametrize("processes", [1, 2])
def test_a_broken_hospital_does_not_stop_the_others_and_is_reported(processes, ship_new_migration):
    create("ONE", "TWO", "BROKEN", "FOUR")
    raw_execute("BROKEN", "CREATE TABLE patients_note (id integer)")  # what 0002 will create
    old = Hospital.objects.get(code="ONE").migration_fingerprint

    ship_new_migration()
    result = migration.fleet_migrate(processes=processes, migrate_platform=False)

    assert (result.checked, result.behind) == (4, 4)
    assert [(r.code, r.ok) for r in result.results] == [
        ("BROKEN", False),
        ("FOUR", True),
        ("ONE", True),
        ("TWO", True),
    ]
    assert "already exists" in result.failures[0].error
    assert not result.ok
    for code in ("ONE", "TWO", "FOUR"):
        assert "nickname" in columns(code)
        assert "patients_note" in tables(code)
    # The failing migration rolled back inside BROKEN only: its first operation is undone too.
    assert "nickname" not in columns("BROKEN")
    fingerprints = dict(Hospital.objects.values_list("code", "migration_fingerprint"))
    current = migration.hospital_fingerprint()
    assert current != old
    assert fingerprints == {"ONE": current, "TWO": current, "FOUR": current, "BROKEN": old}

    # Once mended, the next deploy migrates only the hospital that is still behind.
    raw_execute("BROKEN", "DROP TABLE patients_note")
    again = migration.fleet_migrate(processes=processes, migrate_platform=False)
    assert [(r.code, r.ok, r.applied) for r in again.results] == [
        ("BROKEN", True, ["patients.0002_note"])
    ]


def test_archived_hospitals_are_migrated_too(ship_new_migration):
    create("OLD")
    hospital_archive(code="OLD")
    ship_new_migration()
    result = migration.fleet_migrate(migrate_platform=False)
    assert [(r.code, r.ok) for r in result.results] == [("OLD", True)]
    assert "nickname" in columns("OLD")


def test_a_missing_store_is_reported_not_created():
    create("HERE", "GONE")
    remove_store_behind_our_back("GONE")
    Hospital.objects.update(migration_fingerprint="stale")
    result = migration.fleet_migrate(migrate_platform=False)
    assert [(r.code, r.ok, r.error) for r in result.results] == [
        ("GONE", False, "the store is missing"),
        ("HERE", True, ""),
    ]
    gone = Hospital.objects.get(code="GONE").as_ref()
    assert not stores.store_for(gone).exists(gone)


def test_hospitals_created_after_a_deploy_start_from_the_new_template(ship_new_migration):
    ship_new_migration()
    create("NEWBIE")
    assert "nickname" in columns("NEWBIE")
    assert (
        Hospital.objects.get(code="NEWBIE").migration_fingerprint
        == migration.hospital_fingerprint()
    )


def test_the_migrate_command_lists_failures_and_exits_non_zero(ship_new_migration):
    create("GOOD", "BAD")
    raw_execute("BAD", "DROP TABLE django_migrations")  # its migration history is gone
    ship_new_migration()
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as info:
        call_command("migrate_fleet", "--no-progress", "--processes=1", stdout=out, stderr=err)
    assert info.value.returncode == 1
    assert "2 hospitals checked, 2 behind, 1 migrated, 1 failed" in out.getvalue()
    assert "FAILED BAD:" in err.getvalue()
    assert "nickname" in columns("GOOD")


def test_the_migrate_command_succeeds_quietly_when_all_is_current():
    create("ONLY")
    out = StringIO()
    call_command("migrate_fleet", "--no-progress", stdout=out)
    assert "1 hospitals checked, 0 behind, 0 migrated, 0 failed" in out.getvalue()


def test_the_fingerprint_depends_on_the_migration_files(ship_new_migration):
    before = migration.hospital_fingerprint()
    assert before == migration.hospital_fingerprint()
    ship_new_migration()
    assert migration.hospital_fingerprint() != before


def test_stores_migrated_one_after_another_match_a_store_built_from_scratch(
    ship_wider_migration, monkeypatch
):
    """The rendered starting state is reused from one store to the next (one render for the
    whole fleet); every store still ends up exactly like a store migrated from nothing."""
    create("ONE", "TWO", "THREE")
    rendered: list[int] = []
    real = fingerprint._Executor._create_project_state

    def counting(self: Any, with_applied_migrations: bool = False) -> Any:
        rendered.append(len(self.loader.applied_migrations))
        return real(self, with_applied_migrations=with_applied_migrations)

    monkeypatch.setattr(fingerprint._Executor, "_create_project_state", counting)
    ship_wider_migration()
    result = migration.fleet_migrate(processes=1, migrate_platform=False)

    assert [(r.code, r.ok, r.applied) for r in result.results] == [
        (code, True, ["patients.0002_note"]) for code in ("ONE", "THREE", "TWO")
    ]
    # The three hospitals share one applied set, rendered once. (The template, built from
    # nothing when this fingerprint has none yet, renders the empty set: on PostgreSQL a
    # template may survive from an earlier run, so that one is not counted.)
    assert len([n for n in rendered if n > 0]) == 1
    create("FRESH")  # cloned from the template, which was migrated from nothing
    expected = schema_signature("FRESH")
    assert any("note_text_idx" in str(row) for row in expected)
    for code in ("ONE", "TWO", "THREE"):
        assert schema_signature(code) == expected, code


def test_a_failed_store_leaves_the_reused_state_intact(ship_wider_migration):
    create("BAD", "GOOD")
    raw_execute("BAD", "CREATE TABLE patients_note (id integer)")
    ship_wider_migration()
    result = migration.fleet_migrate(processes=1, migrate_platform=False)
    assert [(r.code, r.ok) for r in result.results] == [("BAD", False), ("GOOD", True)]
    create("FRESH")
    assert schema_signature("GOOD") == schema_signature("FRESH")
