"""Start-up time and resident memory of a web process, with 10 and with 10,000 hospitals.

    .venv/bin/python -m bench.startup [--small 10] [--large 10000] [--runs 15]

Each run spawns a fresh Python process (bench._startup_child) that imports hospitium.wsgi
(get_wsgi_application: settings, apps, middleware), serves GET /health/ and then one hospital's
API view (GET /api/patients/<id>/ with a token and X-Hospital, the real urlconf), and reports its
timings and memory; the parent adds the time from spawning to the second response ("ready", the
figure the target is judged on), and the wall and CPU time of the whole process, which also
include the interpreter's shutdown. Runs alternate between the two
installations (ABBA); medians are reported.
Target: the 10,000-hospital process within 10% of the 10-hospital one.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import _common

TARGET_RATIO = 1.10
FIELDS = [
    "ready_s",
    "wall_s",
    "cpu_s",
    "before_main_s",
    "in_process_s",
    "after_main_s",
    "setup_s",
    "first_health_s",
    "first_hospital_s",
    "vm_rss_kb",
    "vm_hwm_kb",
    "ru_maxrss_kb",
]


def _spawn(home: Path, extra: dict[str, str]) -> dict[str, Any]:
    env = _common.bench_subprocess_env(home)
    env.update(extra)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    spawned_at = time.time()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench._startup_child"],
        env=env,
        cwd=_common.ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    exited_at = time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise RuntimeError(f"start-up child failed: {done.stderr[-2000:]}")
    line = done.stdout.strip().splitlines()[-1]
    child = json.loads(line)
    before_main = child["started_at"] - spawned_at
    return {
        # From spawning the process to the second response served: the start-up a client sees.
        "ready_s": before_main + child["in_process_s"],
        "wall_s": wall,
        "cpu_s": cpu,
        # Interpreter start-up before the child's first line, and its shutdown after the last.
        "before_main_s": before_main,
        "after_main_s": exited_at - child["finished_at"],
        **{k: v for k, v in child.items() if not k.endswith("_at")},
    }


def _close_all() -> None:
    from django.db import connections

    from hospitium.tenancy import stores

    stores.close_hospital_connections()
    connections.close_all()


def run(small: int = 10, large: int = 10_000, runs: int = 15) -> dict[str, Any]:
    small_home = Path(tempfile.mkdtemp(prefix="hospitium-bench-startup-small-"))
    try:
        with _common.django_home("startup") as home:
            from rest_framework.authtoken.models import Token

            from hospitium.accounts.models import Membership, Role, User
            from hospitium.tenancy.migration import ensure_template
            from hospitium.tenancy.models import Hospital

            patient_id = _common.seed_template(ensure_template())
            codes = _common.provision(small)
            # A member of the last of the small set, so the same request works in both.
            user = User.objects.create_user("bench-startup@example.test", None)
            hospital = Hospital.objects.get(code=codes[-1])
            Membership.objects.create(user=user, hospital=hospital, role=Role.DOCTOR)
            token = Token.objects.create(user=user).key
            _close_all()
            shutil.copytree(home, small_home, dirs_exist_ok=True)
            provision_seconds, _ = _common.timed(
                lambda: _common.provision(large - small, start=small)
            )
            _close_all()
            extra = {
                "BENCH_HOSPITAL": hospital.code,
                "BENCH_PATIENT": str(patient_id),
                "BENCH_TOKEN": token,
            }
            homes = {"small": small_home, "large": home}
            for where in homes.values():  # warm the page cache; not counted
                _spawn(where, extra)
            samples: dict[str, list[dict[str, Any]]] = {"small": [], "large": []}
            others = _common.OthersLoad()
            with others:
                for run_index in range(runs):
                    if run_index % 2 == 0:
                        _common.maybe_wait_for_quiet()
                    # ABBA order, so that a trend in the machine's load favours neither side.
                    order = list(homes.items())
                    for label, where in order if run_index % 2 == 0 else reversed(order):
                        samples[label].append(_spawn(where, extra))
            sizes = {
                label: (where / "platform.sqlite3").stat().st_size for label, where in homes.items()
            }
    finally:
        shutil.rmtree(small_home, ignore_errors=True)
    medians = {
        label: {field: statistics.median(s[field] for s in rows) for field in FIELDS}
        for label, rows in samples.items()
    }
    ratios = {field: medians["large"][field] / medians["small"][field] for field in FIELDS}
    return {
        "small": small,
        "large": large,
        "runs": runs,
        "provision_seconds": provision_seconds,
        "platform_db_bytes": sizes,
        "medians": medians,
        "ratios": ratios,
        "target_ratio": TARGET_RATIO,
        "others_busy": others.fraction,
        "met": ratios["ready_s"] <= TARGET_RATIO and ratios["vm_hwm_kb"] <= TARGET_RATIO,
        "samples": samples,
    }


def report(result: dict[str, Any]) -> None:
    print(
        f"web process start-up, {result['small']} vs {result['large']} hospitals "
        f"(median of {result['runs']} alternating runs)"
    )
    small, large, ratio = result["medians"]["small"], result["medians"]["large"], result["ratios"]
    for field in FIELDS:
        unit = "MiB" if field.endswith("_kb") else "ms"
        scale = 1 / 1024 if unit == "MiB" else 1000
        print(
            f"  {field:<17} {small[field] * scale:9.1f} {unit}  {large[field] * scale:9.1f} {unit}"
            f"   x{ratio[field]:.3f}"
        )
    print(f"  (other processes kept the CPUs {result['others_busy']:.0%} busy meanwhile)")
    print(
        "  ready = spawn to second response served; wall and cpu also include the interpreter's "
        "shutdown (after_main), which start-up does not need and which varies most"
    )
    print(
        f"  target within {TARGET_RATIO - 1:.0%} (time to ready, peak RSS): "
        f"{_common.verdict(result['met'])}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    result = run(args.small, args.large, args.runs)
    report(result)
    _common.emit("startup", {k: v for k, v in result.items() if k != "samples"})


if __name__ == "__main__":
    main()
