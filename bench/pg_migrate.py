"""Fleet migrations on PostgreSQL: a deploy with nothing to do over 1,000 hospitals, then one new
migration applied to 200 hospitals with 1 and with 2 processes.

    .venv/bin/python -m bench.pg_migrate [--hospitals 1000] [--noop-runs 5] [--batch 200]
                                         [--repeats 2] [--servers 2] [--pg URL]

Targets: fleet_migrate() with nothing behind over 1,000 hospitals ≤ 3 s (platform migration
included; the cached fingerprint is forgotten first, as a fresh deploy process computes it).

The "new migration" never touches the source tree: the patients app's migrations are copied into
a temporary package with a 0099 added (a nullable column plus an index on it), and
settings.MIGRATION_MODULES points the app at the copy after provisioning. Each timed run migrates
a batch of hospitals never migrated before: the other hospitals are marked as already at the new
fingerprint for that run (their schemas are not touched; fleet_migrate only selects hospitals by
fingerprint). The new template is built before the timer starts and reported on its own.

fleet_migrate ends by topping up each server's pool of spare schemas (docs/scaling.md). The
pools are filled before the timed runs (for the old fingerprint before the no-op runs, for the
new one right after its template), and those fills are reported on their own; the timed runs
include the refill's check that the pools are full.
"""

from __future__ import annotations

import argparse
import importlib
import resource
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import _common
from bench.pg_provisioning import DEFAULT_PG, Load, pg_home, pg_machine

TARGET_NOOP_SECONDS = 3.0
NEW_NAME = "0099_bench_note"
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


def _provision(count: int) -> tuple[float, list[str]]:
    from hospitium.tenancy.provisioning import hospital_create

    codes = [f"H{i:05d}" for i in range(count)]
    started = time.perf_counter()
    for index, code in enumerate(codes):
        hospital_create(code=code, name=f"Bench {code}", domains=[_common.domain_of(code)])
        if (index + 1) % 200 == 0:
            print(
                f"  provisioned {index + 1}/{count} ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    return time.perf_counter() - started, codes


def _noop_runs(runs: int, hospitals: int) -> list[float]:
    from hospitium.tenancy.migration import fleet_migrate, hospital_fingerprint

    samples = []
    for _ in range(runs):
        hospital_fingerprint.cache_clear()
        started = time.perf_counter()
        summary = fleet_migrate(migrate_platform=True)
        samples.append(time.perf_counter() - started)
        assert summary.ok and summary.behind == 0 and summary.checked == hospitals, summary
    return samples


def _noop_breakdown(runs: int) -> dict[str, float]:
    """Median time of each step fleet_migrate takes when nothing is behind."""
    from hospitium.tenancy.migration import (
        ensure_template,
        hospital_fingerprint,
        migrate_platform_store,
    )
    from hospitium.tenancy.models import Hospital
    from hospitium.tenancy.spares import spares_refill

    def fingerprint() -> None:
        hospital_fingerprint.cache_clear()
        hospital_fingerprint()

    def hospitals() -> None:
        live = Hospital.objects.filter(status__in=["active", "archived"])
        live.count()
        list(live.exclude(migration_fingerprint=hospital_fingerprint()))

    steps: dict[str, Callable[[], Any]] = {
        "migrate_platform_store": migrate_platform_store,
        "fingerprint": fingerprint,
        "ensure_template (schema check per server)": ensure_template,
        "count + behind query": hospitals,
        "spares_refill (pools full: a check per server)": spares_refill,
    }
    return {
        name: statistics.median(_common.timed(step)[0] for _ in range(runs)) * 1000
        for name, step in steps.items()
    }


def _install_new_migration(home: Path) -> tuple[str, Path]:
    import hospitium.patients.migrations as original

    source = Path(next(iter(original.__path__)))
    package = f"bench_pg_patients_migrations_{uuid.uuid4().hex[:8]}"
    folder = home / "bench_packages"
    target = folder / package
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    previous = max(p.stem for p in target.glob("[0-9][0-9][0-9][0-9]_*.py"))
    assert previous < NEW_NAME, f"{previous} sorts after {NEW_NAME}: renumber the bench migration"
    (target / f"{NEW_NAME}.py").write_text(NEW_MIGRATION.format(previous=previous))
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    return package, folder


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _new_migration_run(
    batch: list[str], everyone: list[str], old: str, processes: int
) -> dict[str, Any]:
    from hospitium.tenancy.migration import fleet_migrate, hospital_fingerprint
    from hospitium.tenancy.models import Hospital

    new = hospital_fingerprint()
    behind = set(batch)
    Hospital.objects.filter(code__in=[c for c in everyone if c not in behind]).update(
        migration_fingerprint=new
    )
    # Behind: the batch, never migrated since it was provisioned (at the old fingerprint).
    Hospital.objects.filter(code__in=batch).update(migration_fingerprint=old)
    left = Hospital.objects.exclude(migration_fingerprint=new).count()
    assert left == len(batch), (left, len(batch))
    _common.maybe_wait_for_quiet()
    others = Load()
    with others:
        cpu_before = _cpu_seconds()
        seconds, summary = _common.timed(
            lambda: fleet_migrate(processes=processes, migrate_platform=False)
        )
        cpu = _cpu_seconds() - cpu_before
    assert summary.ok, [f.error for f in summary.failures][:3]
    assert summary.behind == len(batch) == len(summary.results), summary
    assert all(r.applied == [f"patients.{NEW_NAME}"] for r in summary.results)
    return {
        "processes": processes,
        "hospitals": len(batch),
        "fleet_s": seconds,
        "hospitals_per_s": len(batch) / seconds,
        "ms_per_hospital": seconds / len(batch) * 1000,
        "cpu_ms_per_hospital": cpu / len(batch) * 1000,
        "postgres_busy": others.postgres,
        "others_busy": others.others,
    }


def _check_column(code: str) -> bool:
    from django.db import connections

    from hospitium.tenancy import stores
    from hospitium.tenancy.models import Hospital

    hospital = Hospital.objects.get(code=code)
    alias = stores.alias_for(hospital.as_ref())
    stores.touch(alias)
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = 'patients_patient' AND column_name = 'bench_note'",
            (hospital.store_name,),
        )
        return cursor.fetchone() is not None


def run(
    hospitals: int = 1000,
    noop_runs: int = 5,
    batch: int = 200,
    repeats: int = 2,
    servers: int = 2,
    pg: str = DEFAULT_PG,
) -> dict[str, Any]:
    assert 2 * batch * repeats <= hospitals, "not enough hospitals for fresh batches"
    with pg_home("migrate", servers=servers, pg=pg) as home:
        from django.conf import settings

        from hospitium.tenancy.migration import ensure_template, hospital_fingerprint
        from hospitium.tenancy.spares import spares_refill

        machine = pg_machine()
        ensure_template()
        provision_s, codes = _provision(hospitals)
        fill_s, _fills = _common.timed(spares_refill)
        _common.maybe_wait_for_quiet()
        others = Load()
        with others:
            noop = _noop_runs(noop_runs, hospitals)
        breakdown = _noop_breakdown(noop_runs)

        old = hospital_fingerprint()
        package, folder = _install_new_migration(home)
        settings.MIGRATION_MODULES = {"patients": package}
        runs: list[dict[str, Any]] = []
        try:
            hospital_fingerprint.cache_clear()
            assert hospital_fingerprint() != old, "the new migration was not seen"
            template_s, _name = _common.timed(ensure_template)
            new_fill_s, _fills = _common.timed(spares_refill)
            batches = [codes[i * batch : (i + 1) * batch] for i in range(2 * repeats)]
            for repeat in range(repeats):
                for offset, processes in enumerate((1, 2)):
                    chosen = batches[2 * repeat + offset]
                    measured = _new_migration_run(chosen, codes, old, processes)
                    assert _check_column(chosen[-1]), "the column is missing"
                    runs.append(measured)
                    print(
                        f"  processes={processes}: {measured['fleet_s']:.2f} s "
                        f"({measured['hospitals_per_s']:.0f} hospitals/s)",
                        flush=True,
                    )
        finally:
            del settings.MIGRATION_MODULES
            sys.path.remove(str(folder))
            hospital_fingerprint.cache_clear()

    result: dict[str, Any] = {
        "hospitals": hospitals,
        "servers": servers,
        "provision_s": provision_s,
        "noop": _common.summary_ms(noop),
        "noop_breakdown_ms": breakdown,
        "noop_load": others.describe(),
        "target_noop_s": TARGET_NOOP_SECONDS,
        "batch": batch,
        "new_template_build_s": template_s,
        "spares_fill_s": fill_s,
        "new_spares_fill_s": new_fill_s,
        "runs": runs,
        "machine": machine,
    }
    result["met_noop"] = result["noop"]["median_ms"] / 1000 <= TARGET_NOOP_SECONDS
    for processes in (1, 2):
        mine = [r for r in runs if r["processes"] == processes]
        fleet = statistics.median(r["fleet_s"] for r in mine)
        result[f"processes_{processes}"] = {
            "fleet_s": fleet,
            "hospitals_per_s": batch / fleet,
            "ms_per_hospital": fleet / batch * 1000,
            "cpu_ms_per_hospital": statistics.median(r["cpu_ms_per_hospital"] for r in mine),
            "runs_s": [round(r["fleet_s"], 2) for r in mine],
            "postgres_busy": [round(r["postgres_busy"], 2) for r in mine],
            "others_busy": [round(r["others_busy"], 2) for r in mine],
        }
    result["parallel_speedup"] = result["processes_1"]["fleet_s"] / result["processes_2"]["fleet_s"]
    return result


def report(result: dict[str, Any]) -> None:
    m = result["machine"]
    print(
        f"machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}, Django {m['django']}, "
        f"PostgreSQL {m['postgresql']}, {m['date']}"
    )
    print(
        f"PostgreSQL fleet migrations, {result['hospitals']} hospitals over "
        f"{result['servers']} servers (provisioned in {result['provision_s']:.0f} s)"
    )
    print(
        f"  nothing to do, fleet_migrate(): {_common.fmt_ms(result['noop'])} "
        f"({result['noop_load']})"
    )
    for name, ms in result["noop_breakdown_ms"].items():
        print(f"    {name}: {ms:.1f} ms")
    print(
        "  spare-schema pools filled before the timed runs (untimed there): "
        f"{result['spares_fill_s'] * 1000:.0f} ms, for the new migration "
        f"{result['new_spares_fill_s'] * 1000:.0f} ms"
    )
    print(
        f"  target <= {TARGET_NOOP_SECONDS:.0f} s: {_common.verdict(result['met_noop'])}",
    )
    print(
        f"  one new migration, batches of {result['batch']} hospitals "
        f"(new template built first in {result['new_template_build_s'] * 1000:.0f} ms):"
    )
    for processes in (1, 2):
        r = result[f"processes_{processes}"]
        print(
            f"    processes={processes}: {r['fleet_s']:.2f} s, {r['hospitals_per_s']:.0f} "
            f"hospitals/s ({r['ms_per_hospital']:.1f} ms each, client CPU "
            f"{r['cpu_ms_per_hospital']:.1f} ms each); runs {r['runs_s']} "
            f"(CPU busy: PostgreSQL {r['postgres_busy']}, others {r['others_busy']})"
        )
    print(f"    2 processes vs 1: {result['parallel_speedup']:.2f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hospitals", type=int, default=1000)
    parser.add_argument("--noop-runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--pg", default=DEFAULT_PG, help="server URL without a database name")
    args = parser.parse_args()
    result = run(args.hospitals, args.noop_runs, args.batch, args.repeats, args.servers, args.pg)
    report(result)
    _common.emit("pg_migrate", result)


if __name__ == "__main__":
    main()
