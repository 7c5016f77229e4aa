"""`hospitium migrate` killed with SIGKILL in the middle of a fleet migration (a real subprocess,
its workers paused inside a migration by the test's own migration file): the workers die with
it, no hospital is left half-migrated, and a rerun finishes the fleet. On both stores."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hospitium.core.processes import pid_alive
from hospitium.tenancy import migration
from hospitium.tenancy.provisioning import hospital_create
from tests.storehelp import column_names, raw_execute, table_names
from tests.subprocs import Cli, descendants, kill, output, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SOURCE = Path(migration.__file__).resolve().parents[1] / "patients" / "migrations"
CODES = ["FA", "FB", "FC", "FD"]
#: Stores that migrate through before the rest stop inside the migration.
PASSING = 2

#: A column, then a stop (for stores past the first PASSING, when the test asks), then a table:
#: killed at the stop, a store that is not rolled back shows the column without the table.
MIGRATION = """
import os
import time
from pathlib import Path

from django.db import migrations, models


def stop_when_told(apps, schema_editor):
    gate = os.environ.get("HOSPITIUM_TEST_MIGRATION_GATE")
    connection = schema_editor.connection
    if connection.vendor == "sqlite":
        hospital = connection.alias.startswith("hospital:")
    else:
        with connection.cursor() as cursor:
            cursor.execute("select current_schema()")
            hospital = cursor.fetchone()[0].startswith("hospital_")
    if not gate or not hospital:
        return
    for n in range(int(os.environ["HOSPITIUM_TEST_MIGRATION_PASSING"])):
        try:
            (Path(gate) / f"pass-{n}").open("x").close()
            return
        except FileExistsError:
            continue
    (Path(gate) / f"stopped-{os.getpid()}").touch()
    while True:
        time.sleep(60)


class Migration(migrations.Migration):
    dependencies = [("patients", "0001_initial")]

    operations = [
        migrations.AddField("patient", "nickname", models.CharField(max_length=50, null=True)),
        migrations.RunPython(stop_when_told, migrations.RunPython.noop),
        migrations.CreateModel(
            "Note",
            fields=[("id", models.BigAutoField(primary_key=True)), ("text", models.TextField())],
        ),
    ]
"""


@pytest.fixture
def deployed(tmp_path: Path, _isolated_home: Path) -> Iterator[Cli]:
    """Four hospitals at the current migrations, and `hospitium` commands that see a new
    patients migration (0002) in a package of their own."""
    for code in CODES:
        hospital_create(code=code, name=code, domains=[f"{code.lower()}.example.test"])
    name = f"patients_killed_{uuid.uuid4().hex[:8]}"
    package = tmp_path / "migration_packages" / name
    package.mkdir(parents=True)
    for source in SOURCE.glob("*.py"):
        shutil.copy(source, package / source.name)
    # It follows the latest migration, as a real one would (tests/tenancy/test_migration.py).
    latest = sorted(p.stem for p in SOURCE.glob("0*.py"))[-1]
    (package / "0002_note.py").write_text(MIGRATION.replace('"0001_initial"', f'"{latest}"'))
    cli = Cli(
        _isolated_home, env={"HOSPITIUM_TEST_MIGRATION_MODULES": json.dumps({"patients": name})}
    )
    cli.env["PYTHONPATH"] = os.pathsep.join(
        [str(tmp_path / "migration_packages"), cli.env["PYTHONPATH"]]
    )
    try:
        yield cli
    finally:
        cli.stop_all()


def state(code: str) -> tuple[bool, bool, bool]:
    """(has the column, has the table, records the migration) of one hospital's store."""
    recorded = raw_execute(
        code,
        "select count(*) from django_migrations where app = %s and name = %s",
        ("patients", "0002_note"),
    )[0][0]
    return (
        "nickname" in column_names(code, "patients_patient"),
        "patients_note" in table_names(code),
        recorded == 1,
    )


def test_a_killed_fleet_migration_leaves_no_hospital_half_migrated_and_a_rerun_finishes(
    deployed, tmp_path
):
    gate = tmp_path / "gate"
    gate.mkdir()
    run = deployed.start(
        "migrate",
        "--processes",
        "2",
        env={
            "HOSPITIUM_TEST_MIGRATION_GATE": str(gate),
            "HOSPITIUM_TEST_MIGRATION_PASSING": str(PASSING),
        },
    )
    wait_until(lambda: len(list(gate.glob("stopped-*"))) == 2, "two stores to stop", run)
    workers = descendants(run.pid)
    assert {int(p.name.removeprefix("stopped-")) for p in gate.glob("stopped-*")} <= workers
    kill(run)

    deadline = time.monotonic() + 10
    while any(pid_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    outlived = [pid for pid in workers if pid_alive(pid)]
    for pid in outlived:  # only when the test fails: leave nothing running
        os.kill(pid, signal.SIGKILL)
    assert outlived == [], "workers outlived the migration"

    states = {code: state(code) for code in CODES}
    assert sorted(states.values()) == [(False, False, False)] * 2 + [(True, True, True)] * 2, states
    # Nothing was recorded as current: the kill came before the fleet's summary.
    listed = {row["code"]: row["migration_state"] for row in deployed.json("hospitals", "list")}
    assert listed == dict.fromkeys(CODES, "behind")

    rerun = deployed.run("migrate", "--processes", "2")
    assert "4 hospitals checked, 4 behind, 4 migrated, 0 failed" in rerun.stdout, output(run)
    assert {code: state(code) for code in CODES} == dict.fromkeys(CODES, (True, True, True))
    listed = {row["code"]: row["migration_state"] for row in deployed.json("hospitals", "list")}
    assert listed == dict.fromkeys(CODES, "current")
    assert deployed.json("integrity", "check") == {"ok": True, "findings": []}
