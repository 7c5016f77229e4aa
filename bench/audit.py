"""What auditing every read costs a patient-detail request (target: ≤ 10 %).

    .venv/bin/python -m bench.audit [--patients 2000] [--rounds 24] [--requests 400]

Same process, same hospital, same signed-in doctor, same URLs: rounds run in pairs, one with the
real ``audit_record`` and one with a no-op, the order alternating from pair to pair (ABBA), and
the overhead is the median over the pairs of each pair's ratio — in wall time and in this
process's CPU time. Short pairs and paired ratios because this host's speed drifts by tens of
percent from minute to minute (2026-12-07: the same round took 2.0 ms a request, then 2.8):
comparing the medians of long rounds measured minutes apart gave 13 % and 4 % for the same code
within two minutes, and an A/A run (a no-op on both sides) showed 4–6 % "overhead".

It also prints what the calls to ``audit_record`` took, each timed as it ran (mean, p50, p99,
the worst: the WAL's checkpoints, every ~200 events here, wait on fsync), as a share of a
request that is not audited: a figure the drift between rounds does not enter.

``--instructions`` counts instead the instructions each round executes, under valgrind's
callgrind (the bench runs itself under ``valgrind --tool=callgrind --instr-atstart=no`` and
switches the counting on, zeroes and dumps it around each round with ``callgrind_control``):
a count of the CPU work that the host's neighbours do not change (the same total twice, once
with the other core loaded). It leaves out waiting (the WAL's fsync at a checkpoint), which
the wall-clock figures keep. About 50 times slower: use ``--rounds 2 --requests 100``.

In-process requests through Django's test client (the full middleware and DRF stack, no
network).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import _common


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=24, help="pairs of rounds")
    parser.add_argument("--requests", type=int, default=400, help="requests per round")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions under callgrind"
    )
    args = parser.parse_args()
    if args.instructions and _common.CALLGRIND_ENV not in os.environ:
        _common.rerun_under_callgrind("bench.audit")
        return

    home = Path(tempfile.mkdtemp(prefix="hospitium-bench-audit-"))
    os.environ.update(
        {
            "HOSPITIUM_HOME": str(home),
            "DJANGO_SETTINGS_MODULE": "hospitium.settings",
            "HOSPITIUM_LOG_LEVEL": "WARNING",
        }
    )
    for name in ("HOSPITIUM_DATABASE_URL", "HOSPITIUM_HOSPITAL_SERVERS"):
        os.environ.pop(name, None)
    try:
        run(args)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run(args: argparse.Namespace) -> None:
    import datetime as dt
    import random

    import django

    django.setup()
    from django.test import Client
    from rest_framework.views import APIView

    from hospitium.accounts.models import Membership, Role, User
    from hospitium.audit.models import AuditEvent
    from hospitium.core import resources
    from hospitium.patients.models import Patient
    from hospitium.tenancy.context import hospital_context
    from hospitium.tenancy.migration import fleet_migrate
    from hospitium.tenancy.provisioning import hospital_create

    APIView.throttle_classes = []  # the bench sends far more than a person's rate limit allows
    fleet_migrate(progress=False)
    hospital = hospital_create(code="AUDIT", name="Audit", domains=["audit.localhost"]).hospital
    doctor = User.objects.create_user("doctor@audit.example", "bench-password-1")
    Membership.objects.create(user=doctor, hospital=hospital, role=Role.DOCTOR)
    with hospital_context(hospital):
        Patient.objects.bulk_create(
            Patient(
                mrn=f"M{n:07d}",
                given_name="Given",
                family_name=f"Family{n}",
                birth_date=dt.date(1950, 1, 1) + dt.timedelta(days=n % 20000),
            )
            for n in range(args.patients)
        )
        ids = [str(pk) for pk in Patient.objects.values_list("pk", flat=True)]
    client = Client(HTTP_HOST="audit.localhost")
    client.force_login(doctor)
    rng = random.Random(7)
    urls = [f"/api/patients/{rng.choice(ids)}/" for _ in range(args.requests)]
    recorder = resources.audit_record
    spent: list[float] = []  # each audit_record call's own wall time, in the audited rounds

    def real(**kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return recorder(**kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    def noop(**kwargs: object) -> None:
        return None

    counter = None
    if _common.CALLGRIND_ENV in os.environ:
        counter = _common.Instructions(os.environ[_common.CALLGRIND_ENV])

    def one_round() -> tuple[float, float]:
        if counter is not None:
            counter.start()
        started, cpu = time.perf_counter(), time.process_time()
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, response.content
        if counter is not None:
            count = counter.stop()
            return count, count  # instructions in both columns
        return time.perf_counter() - started, time.process_time() - cpu

    one_round()  # warm up both paths' caches
    resources.audit_record = noop
    one_round()
    wall: dict[str, list[float]] = {"audited": [], "not audited": []}
    cpu: dict[str, list[float]] = {"audited": [], "not audited": []}
    for pair in range(args.rounds):
        order = (True, False) if pair % 2 == 0 else (False, True)
        for audited in order:
            resources.audit_record = real if audited else noop
            label = "audited" if audited else "not audited"
            seconds, cpu_seconds = one_round()
            wall[label].append(seconds)
            cpu[label].append(cpu_seconds)
    resources.audit_record = recorder
    with hospital_context(hospital):
        events = AuditEvent.objects.filter(action="read").count()

    def overhead(times: dict[str, list[float]]) -> float:
        ratios = [on / off for on, off in zip(times["audited"], times["not audited"], strict=True)]
        return (statistics.median(ratios) - 1) * 100

    print(
        f"patient-detail requests: {args.rounds} pairs of rounds of {args.requests} requests"
        f" (median of the pairs)"
    )
    if counter is not None:
        for label in ("not audited", "audited"):
            each = statistics.median(wall[label]) / args.requests
            print(f"  {label:<12} {each:12,.0f} instructions a request")
        print(f"  overhead in instructions: {overhead(wall):5.1f} %   (target ≤ 10 %)")
        return
    for label in ("not audited", "audited"):
        each = statistics.median(wall[label]) / args.requests * 1e6
        print(f"  {label:<12} {1e6 / each:8.0f} req/s   ({each:6.0f} µs each)")
    spread = sorted(
        (on / off - 1) * 100 for on, off in zip(wall["audited"], wall["not audited"], strict=True)
    )
    print(f"  pairs' overhead from {spread[0]:.1f} to {spread[-1]:.1f} %")
    # The call itself, timed as it runs: drift between rounds does not enter it.
    spent.sort()
    mean = statistics.fmean(spent) * 1e6
    off_each = statistics.median(wall["not audited"]) / args.requests * 1e6
    print(
        f"  audit_record itself: mean {mean:.0f} µs (p50 {spent[len(spent) // 2] * 1e6:.0f},"
        f" p99 {spent[len(spent) * 99 // 100] * 1e6:.0f}, max {spent[-1] * 1e6:.0f})"
        f" = {mean / off_each * 100:.1f} % of a request not audited"
    )
    print(f"  overhead in CPU time: {overhead(cpu):5.1f} %")
    print(
        f"  overhead:    {overhead(wall):6.1f} %   (target ≤ 10 %); read events written: {events}"
    )


if __name__ == "__main__":
    main()
