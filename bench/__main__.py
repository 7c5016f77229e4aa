"""Run every benchmark, each in its own process (each needs its own HOSPITIUM_HOME), then print
a summary against the targets.

    .venv/bin/python -m bench [--only routing,startup] [--quick] [--json results.json]
                              [--wait-idle SECONDS]

``make bench`` runs this. The full set takes about ten minutes on 2 cores, most of it in the
routing benchmark; ``--quick`` uses smaller fleets and fewer rounds for a smoke run (its numbers
are not the documented ones).

``reports_1m`` (issue 5: reports on a hospital of 1,000,000 visits) is registered but not in the
default set: it builds its hospital for several minutes and runs for 20–40 more. Run it with
``--only reports_1m`` (or ``.venv/bin/python -m bench.reports_1m --home DIR`` to keep the hospital
between runs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import _common

BENCHMARKS = ["provisioning", "migrate_noop", "migrate_new", "routing", "startup", "store_costs"]
#: Registered, run only when named with --only (they take many minutes).
LONG_BENCHMARKS = ["reports_1m"]
QUICK_ARGS = {
    "provisioning": ["--hospitals", "50", "--migrate-runs", "5"],
    "migrate_noop": ["--runs", "3", "--cli-runs", "2"],
    "migrate_new": ["--hospitals", "50", "--repeats", "1"],
    "routing": ["--hospitals", "1000", "--rounds", "2", "--round-requests", "1000"],
    "startup": ["--large", "1000", "--runs", "3"],
    "store_costs": ["--iterations", "500"],
    "reports_1m": [
        "--patients",
        "3000",
        "--rounds",
        "1",
        "--export-rounds",
        "1",
        "--pdf-runs",
        "1",
    ],
}


def _run_one(name: str, quick: bool, wait_idle: float) -> dict[str, Any] | None:
    command = [sys.executable, "-m", f"bench.{name}", *(QUICK_ARGS[name] if quick else [])]
    env = dict(os.environ)
    if wait_idle > 0:
        env["BENCH_WAIT_IDLE"] = str(wait_idle)
    env["PYTHONPATH"] = os.pathsep.join([str(_common.ROOT), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    print(f"=== bench.{name} ===", flush=True)
    busy = _common.wait_for_quiet(wait_idle) if wait_idle > 0 else _common.cpu_busy()
    print(f"  (CPUs {busy:.0%} busy with other work just before it started)", flush=True)
    load_before = os.getloadavg()
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=_common.ROOT, env=env, stdout=subprocess.PIPE, text=True, bufsize=1
    )
    result: dict[str, Any] | None = None
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(_common.RESULT_PREFIX):
            result = json.loads(line[len(_common.RESULT_PREFIX) :])
        else:
            print(line, end="", flush=True)
    process.wait()
    if process.returncode != 0 or result is None:
        print(f"bench.{name} failed (exit {process.returncode})", flush=True)
        return None
    result["elapsed_s"] = time.perf_counter() - started
    result["cpu_busy_before"] = busy
    result["loadavg_before"] = load_before
    result["loadavg_after"] = os.getloadavg()
    return result


def _summary(results: dict[str, dict[str, Any] | None]) -> list[str]:
    lines = []

    def add(name: str, text: str, met: bool | str | None) -> None:
        if isinstance(met, str):
            state = met
        else:
            state = "FAILED TO RUN" if met is None else _common.verdict(met)
        lines.append(f"  {name:<14} {state:<16} {text}")

    r = results.get("provisioning")
    if "provisioning" in results:
        add(
            "provisioning",
            f"median {r['no_admin']['median_ms']:.2f} ms (p95 {r['no_admin']['p95_ms']:.2f}), "
            f"with admin {r['existing_admin']['median_ms']:.2f} ms; migrating a fresh store "
            f"{r['migrate_store']['median_ms']:.1f} ms; target <= 25 ms"
            if r
            else "",
            r["met"] if r else None,
        )
    r = results.get("migrate_noop")
    if "migrate_noop" in results:
        add(
            "migrate_noop",
            f"{r['hospitals']} hospitals: in-process {r['in_process_s']['median'] * 1000:.0f} ms, "
            f"CLI end to end {r['cli_s']['median']:.2f} s; target <= 3 s"
            if r
            else "",
            (r["met"] and r["cli_met"]) if r else None,
        )
    r = results.get("migrate_new")
    if "migrate_new" in results:
        add(
            "migrate_new",
            f"{r['hospitals']} hospitals: 1 process {r['processes_1']['fleet_s']:.2f} s "
            f"({r['processes_1']['hospitals_per_s']:.0f}/s), 2 processes "
            f"{r['processes_2']['fleet_s']:.2f} s ({r['processes_2']['hospitals_per_s']:.0f}/s); "
            "no target"
            if r
            else "",
            "measured" if r else None,
        )
    r = results.get("routing")
    if "routing" in results:
        if r:
            rows = {row["scenario"]: row for row in r["scenarios"]}
            parts = [f"{name}: {row['ratio']:.2f}x" for name, row in rows.items()]
            lines.append(
                f"  {'routing':<14} {_common.verdict(r['met']):<16} "
                "routed / unrouted; target >= 0.9x at 100 hospitals"
            )
            for part in parts:
                lines.append(f"  {'':<14} {part}")
        else:
            add("routing", "", None)
    r = results.get("startup")
    if "startup" in results:
        add(
            "startup",
            f"{r['small']} vs {r['large']} hospitals: ready x{r['ratios']['ready_s']:.3f}, "
            f"peak RSS x{r['ratios']['vm_hwm_kb']:.3f} "
            f"({r['medians']['large']['ready_s'] * 1000:.0f} ms, "
            f"{r['medians']['large']['vm_hwm_kb'] / 1024:.1f} MiB); target within 10%"
            if r
            else "",
            r["met"] if r else None,
        )
    r = results.get("store_costs")
    if "store_costs" in results:
        handlers = r["handlers_us_by_open_stores"] if r else {}
        add(
            "store_costs",
            "request handlers "
            + ", ".join(f"{us:.0f} µs at {n} open" for n, us in handlers.items())
            + f"; hospital read {r['hospital_read_open_us']:.0f} µs open, "
            f"{r['hospital_read_opening_us']:.0f} µs opening; platform read "
            f"{r['platform_read_persistent_us']:.0f} µs kept, "
            f"{r['platform_read_reopened_us']:.0f} µs re-opened; no target"
            if r
            else "",
            "measured" if r else None,
        )
    r = results.get("reports_1m")
    if "reports_1m" in results:
        if r:
            data = r.get("data", {}).get("templates", {})
            worst = max(data.items(), key=lambda item: item[1]["ratio"]) if data else None
            if worst:
                add(
                    "reports_1m",
                    f"data step: worst {worst[0]} {worst[1]['ratio']:.2f}x hand-written SQL "
                    "(target <= 1.5x)",
                    all(row["met"] for row in data.values()),
                )
            exports = r.get("exports", {})
            for key, text in (
                (
                    "xlsx",
                    lambda x: f"xlsx {x['ratio']:.2f}x XlsxWriter, peak {x['peak_mb']:.0f} MB",
                ),
                ("csv", lambda x: f"csv {x['median_rows_per_second']:,.0f} rows/s"),
                ("pdf", lambda x: f"pdf {x['pages']} pages {x['best_s']:.2f} s"),
            ):
                if key in exports:
                    add("", text(exports[key]), exports[key]["met"])
        else:
            add("reports_1m", "", None)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated benchmark names")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--json", type=Path, help="write every result and the machine here")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each benchmark (and each part of one), wait up to this long for the CPUs "
        "to be nearly idle",
    )
    args = parser.parse_args()
    names = args.only.split(",") if args.only else BENCHMARKS
    unknown = set(names) - set(BENCHMARKS) - set(LONG_BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    machine = _common.machine()
    results = {name: _run_one(name, args.quick, args.wait_idle) for name in names}
    print("=== summary ===")
    print(
        f"  {machine['date']}; {machine['nproc']} CPUs ({machine['cpu']}); "
        f"Python {machine['python']}, Django {machine['django']}, SQLite {machine['sqlite']}"
    )
    for line in _summary(results):
        print(line)
    if args.json:
        payload = {"machine": machine, "source": _common.source_state(), "results": results}
        args.json.write_text(json.dumps(payload, indent=2, default=str))
        print(f"  results written to {args.json}")
    if any(result is None for result in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
