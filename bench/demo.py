"""Synthetic data generation: rows per second for one hospital, and peak memory.

    .venv/bin/python -m bench.demo [--patients 20000] [--years 2] [--seed 1] [--wait-idle 600]

Target: at least 50,000 rows/s overall on the embedded default (SQLite), with memory bounded
(rows are generated and written in batches).
"""

from __future__ import annotations

import argparse
import os
import resource
from typing import Any

from bench import _common

TARGET_ROWS_PER_SECOND = 50_000


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run(patients: int = 20_000, years: int = 2, seed: int = 1) -> dict[str, Any]:
    with _common.django_home("demo"):
        from hospitium.demo.generator import demo_fill
        from hospitium.tenancy.provisioning import hospital_create

        hospital = hospital_create(
            code="BENCH_DEMO", name="Bench demo hospital", domains=["bench-demo.bench.test"]
        ).hospital
        rss_before = _peak_rss_mib()
        _common.maybe_wait_for_quiet()
        others = _common.OthersLoad()
        with others:
            outcome = demo_fill(hospital=hospital, patients=patients, years=years, seed=seed)
        result: dict[str, Any] = {
            "patients": patients,
            "years": years,
            "rows": outcome.rows,
            "seconds": round(outcome.seconds, 2),
            "rows_per_second": round(outcome.rows_per_second),
            "visits": outcome.counts.get("encounters.Visit", 0),
            "counts": outcome.counts,
            "peak_rss_mib_before": round(rss_before, 1),
            "peak_rss_mib": round(_peak_rss_mib(), 1),
            "others_busy": round(others.fraction, 3),
            "target_rows_per_second": TARGET_ROWS_PER_SECOND,
            "machine": _common.machine(),
            "source": _common.source_state(),
        }
    result["met"] = result["rows_per_second"] >= TARGET_ROWS_PER_SECOND
    return result


def report(result: dict[str, Any]) -> None:
    print(f"demo data, {result['patients']:,} patients over {result['years']} years (SQLite)")
    for label, rows in result["counts"].items():
        print(f"  {label:<28} {rows:>10,}")
    print(
        f"  {result['rows']:,} rows ({result['visits']:,} visits) in {result['seconds']:.1f} s: "
        f"{result['rows_per_second']:,} rows/s"
    )
    print(
        f"  peak RSS {result['peak_rss_mib']:.0f} MiB "
        f"(before generating: {result['peak_rss_mib_before']:.0f} MiB)"
    )
    print(f"  (other processes kept the CPUs {result['others_busy']:.0%} busy meanwhile)")
    print(
        f"  target >= {TARGET_ROWS_PER_SECOND:,} rows/s: {_common.verdict(result['met'])}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="wait (up to this long) for the machine to be nearly idle before generating",
    )
    args = parser.parse_args()
    if args.wait_idle > 0:
        os.environ["BENCH_WAIT_IDLE"] = str(args.wait_idle)
    result = run(args.patients, args.years, args.seed)
    report(result)
    _common.emit("demo", result)


if __name__ == "__main__":
    main()
