"""One new migration applied to 200 hospitals, with 1 and with 2 processes.

    .venv/bin/python -m bench.migrate_new [--hospitals 200] [--repeats 3] [--profile]

The "new migration" never touches the source tree: the patients app's migrations are copied
into a temporary package, a 0002 (a nullable column plus an index on it) is added, and
settings.MIGRATION_MODULES points the app at the copy once the hospitals are provisioned. Between
runs the stores are restored from a snapshot taken right after provisioning, so every run
migrates the same 200 stores from the same state.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import pstats
import resource
import shutil
import statistics
import sys
import uuid
from pathlib import Path
from typing import Any

from bench import _common

NEW_MIGRATION = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("patients", "{previous}")]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="bench_note",
            field=models.CharField(max_length=100, null=True, blank=True),
        ),
        migrations.AddIndex(
            model_name="patient",
            index=models.Index(fields=["bench_note"], name="patient_bench_note_idx"),
        ),
    ]
"""
NEW_NAME = "0099_bench_note"


def _install_new_migration(home: Path) -> tuple[str, Path]:
    """Copy patients' migrations into a temporary package with one more migration in it."""
    import hospitium.patients.migrations as original

    source = Path(next(iter(original.__path__)))
    package = f"bench_patients_migrations_{uuid.uuid4().hex[:8]}"
    folder = home / "bench_packages"
    target = folder / package
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    previous = max(p.stem for p in target.glob("[0-9][0-9][0-9][0-9]_*.py"))
    (target / f"{NEW_NAME}.py").write_text(NEW_MIGRATION.format(previous=previous))
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    return package, folder


def _snapshot(codes: list[str], home: Path) -> Path:
    from hospitium.tenancy import stores

    stores.close_hospital_connections()
    folder = home / "snapshot"
    folder.mkdir()
    for code in codes:
        shutil.copyfile(stores.store_path(code), folder / stores.store_file_name(code))
    return folder


def _restore(codes: list[str], snapshot: Path, old_fingerprint: str) -> None:
    from hospitium.tenancy import stores
    from hospitium.tenancy.models import Hospital

    stores.close_hospital_connections()
    for code in codes:
        path = stores.store_path(code)
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(snapshot / stores.store_file_name(code), path)
    Hospital.objects.filter(code__in=codes).update(migration_fingerprint=old_fingerprint)


def _one_run(processes: int, hospitals: int, profile: bool) -> dict[str, Any]:
    from hospitium.tenancy.migration import ensure_template, fleet_migrate, template_path

    _common.maybe_wait_for_quiet()
    template_path().unlink(missing_ok=True)
    template_seconds, _path = _common.timed(ensure_template)
    profiler = cProfile.Profile() if profile else None
    others = _common.OthersLoad()
    with others:
        cpu_before = _cpu_seconds()
        if profiler is not None:
            profiler.enable()
        seconds, summary = _common.timed(
            lambda: fleet_migrate(processes=processes, migrate_platform=False)
        )
        cpu = _cpu_seconds() - cpu_before
    if profiler is not None:
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        print(out.getvalue())
    assert summary.ok, [f.error for f in summary.failures][:3]
    assert summary.behind == hospitals == len(summary.results), summary
    assert all(r.applied == [f"patients.{NEW_NAME}"] for r in summary.results)
    return {
        "processes": processes,
        "template_build_s": template_seconds,
        "fleet_s": seconds,
        "hospitals_per_s": hospitals / seconds,
        "cpu_s": cpu,
        "others_busy": others.fraction,
    }


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the worker processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _check_column(code: str) -> bool:
    from django.db import connections

    from hospitium.tenancy import stores

    alias = stores.ALIAS_PREFIX + code
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT name FROM pragma_table_info('patients_patient')")
        columns = {row[0] for row in cursor.fetchall()}
    stores.close_alias(alias)
    return "bench_note" in columns


def run(hospitals: int = 200, repeats: int = 3, profile: bool = False) -> dict[str, Any]:
    with _common.django_home("migrate-new") as home:
        from django.conf import settings

        from hospitium.tenancy.migration import hospital_fingerprint

        codes = _common.provision(hospitals)
        old_fingerprint = hospital_fingerprint()
        snapshot = _snapshot(codes, home)
        package, folder = _install_new_migration(home)
        settings.MIGRATION_MODULES = {"patients": package}
        try:
            hospital_fingerprint.cache_clear()
            assert hospital_fingerprint() != old_fingerprint, "the new migration was not seen"
            runs: list[dict[str, Any]] = []
            for repeat in range(repeats):
                for processes in (1, 2):
                    runs.append(_one_run(processes, hospitals, profile and repeat == 0))
                    assert _check_column(codes[-1])
                    _restore(codes, snapshot, old_fingerprint)
        finally:
            del settings.MIGRATION_MODULES
            sys.path.remove(str(folder))
            hospital_fingerprint.cache_clear()
    result: dict[str, Any] = {"hospitals": hospitals, "repeats": repeats, "runs": runs}
    for processes in (1, 2):
        mine = [r for r in runs if r["processes"] == processes]
        fleet = statistics.median(r["fleet_s"] for r in mine)
        result[f"processes_{processes}"] = {
            "fleet_s": fleet,
            "hospitals_per_s": hospitals / fleet,
            "ms_per_hospital": fleet / hospitals * 1000,
            "template_build_s": statistics.median(r["template_build_s"] for r in mine),
            "cpu_ms_per_hospital": statistics.median(r["cpu_s"] for r in mine) / hospitals * 1000,
            "runs_s": [round(r["fleet_s"], 3) for r in mine],
            "others_busy": [round(r["others_busy"], 2) for r in mine],
        }
    result["parallel_speedup"] = result["processes_1"]["fleet_s"] / result["processes_2"]["fleet_s"]
    return result


def report(result: dict[str, Any]) -> None:
    print(f"one new migration over {result['hospitals']} hospitals (median of {result['repeats']})")
    for processes in (1, 2):
        r = result[f"processes_{processes}"]
        print(
            f"  processes={processes}: {r['fleet_s']:.2f} s, {r['hospitals_per_s']:.0f} "
            f"hospitals/s ({r['ms_per_hospital']:.1f} ms each, CPU "
            f"{r['cpu_ms_per_hospital']:.1f} ms each); runs {r['runs_s']} (others busy "
            f"{r['others_busy']}); template rebuilt first in {r['template_build_s'] * 1000:.0f} ms"
        )
    print(f"  2 processes vs 1: {result['parallel_speedup']:.2f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hospitals", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile the first runs")
    args = parser.parse_args()
    result = run(args.hospitals, args.repeats, args.profile)
    report(result)
    _common.emit("migrate_new", result)


if __name__ == "__main__":
    main()
