"""A deploy with nothing to migrate, over 1,000 hospitals: in-process and through the CLI.

    .venv/bin/python -m bench.migrate_noop [--hospitals 1000] [--runs 5] [--cli-runs 5]

Target: fleet_migrate(migrate_platform=True) ≤ 3 s in total. Each in-process run forgets the
cached fingerprint first, as a fresh deploy process would have to compute it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import _common

TARGET_SECONDS = 3.0


def _fleet_runs(runs: int, hospitals: int) -> list[float]:
    from hospitium.tenancy.migration import fleet_migrate, hospital_fingerprint

    samples = []
    for _ in range(runs):
        hospital_fingerprint.cache_clear()
        started = time.perf_counter()
        summary = fleet_migrate(migrate_platform=True)
        samples.append(time.perf_counter() - started)
        assert summary.ok and summary.behind == 0 and summary.checked == hospitals, summary
    return samples


def _breakdown(runs: int) -> dict[str, float]:
    """Median time of each step fleet_migrate takes when nothing is behind."""
    from django.core.management import call_command

    from hospitium.tenancy import migration
    from hospitium.tenancy.migration import ensure_template, hospital_fingerprint
    from hospitium.tenancy.models import Hospital

    def platform() -> None:
        # What fleet_migrate runs for the platform store (newer code narrows it to platform apps).
        narrowed = getattr(migration, "migrate_platform_store", None)
        if narrowed is not None:
            narrowed()
        else:
            call_command("migrate", database="default", interactive=False, verbosity=0)

    def fingerprint() -> None:
        hospital_fingerprint.cache_clear()
        hospital_fingerprint()

    def hospitals() -> None:
        current = hospital_fingerprint()
        live = Hospital.objects.filter(status__in=["active", "archived"])
        live.count()
        list(live.exclude(migration_fingerprint=current).values_list("code", flat=True))

    steps = {
        "platform_migrate": platform,
        "fingerprint": fingerprint,
        "ensure_template": ensure_template,
        "hospital_queries": hospitals,
    }
    return {
        name: statistics.median(_common.timed(step)[0] for _ in range(runs)) * 1000
        for name, step in steps.items()
    }


def _cli_runs(home: Path, runs: int) -> tuple[list[float], str]:
    exe = Path(sys.executable).with_name("hospitium")
    env = _common.bench_subprocess_env(home)
    samples = []
    output = ""
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            [str(exe), "migrate", "--no-progress"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        samples.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(f"hospitium migrate failed: {done.stderr}")
        output = done.stdout.strip()
    return samples, output


def _startup_baseline(home: Path, runs: int) -> list[float]:
    """Interpreter plus django.setup() alone, to show what the CLI spends before migrating."""
    env = _common.bench_subprocess_env(home)
    code = "import django; django.setup()"
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        samples.append(time.perf_counter() - started)
    return samples


def run(hospitals: int = 1000, runs: int = 5, cli_runs: int = 5) -> dict[str, Any]:
    with _common.django_home("migrate-noop") as home:
        provision_seconds, _codes = _common.timed(lambda: _common.provision(hospitals))
        in_process = _fleet_runs(runs, hospitals)
        breakdown = _breakdown(runs)
        cli, cli_output = _cli_runs(home, cli_runs)
        baseline = _startup_baseline(home, cli_runs)
    median = statistics.median(in_process)
    return {
        "hospitals": hospitals,
        "provision_seconds": provision_seconds,
        "in_process_s": {
            "median": median,
            "min": min(in_process),
            "max": max(in_process),
            "runs": in_process,
        },
        "breakdown_ms": breakdown,
        "cli_s": {"median": statistics.median(cli), "min": min(cli), "max": max(cli)},
        "cli_output": cli_output,
        "python_django_startup_s": statistics.median(baseline),
        "target_s": TARGET_SECONDS,
        "met": median <= TARGET_SECONDS,
        "cli_met": statistics.median(cli) <= TARGET_SECONDS,
    }


def report(result: dict[str, Any]) -> None:
    print(f"no-op fleet migration, {result['hospitals']} hospitals")
    print(f"  (provisioned them in {result['provision_seconds']:.1f} s)")
    ip = result["in_process_s"]
    print(
        f"  fleet_migrate in-process: median {ip['median'] * 1000:.0f} ms "
        f"(min {ip['min'] * 1000:.0f}, max {ip['max'] * 1000:.0f})"
    )
    for step, ms in result["breakdown_ms"].items():
        print(f"    {step:<17} {ms:8.1f} ms")
    cli = result["cli_s"]
    print(
        f"  `hospitium migrate --no-progress` end to end: median {cli['median']:.2f} s "
        f"(min {cli['min']:.2f}, max {cli['max']:.2f})"
    )
    print(f"    of which python + django.setup(): {result['python_django_startup_s']:.2f} s")
    print(f"    it said: {result['cli_output']}")
    print(
        f"  target <= {TARGET_SECONDS:.0f} s: in-process {_common.verdict(result['met'])}, "
        f"CLI {_common.verdict(result['cli_met'])}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hospitals", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cli-runs", type=int, default=5)
    args = parser.parse_args()
    result = run(args.hospitals, args.runs, args.cli_runs)
    report(result)
    _common.emit("migrate_noop", result)


if __name__ == "__main__":
    main()
