"""Load: concurrent API clients against gunicorn over many hospitals (issue 15: zero errors,
p99 ≤ 100 ms on this 2-core machine, both stores).

    .venv/bin/python -m bench.load [--store sqlite|postgresql] [--hospitals 100] [--clients 20]
                                   [--seconds 60] [--patients 40] [--pg URL] [--port N]

Provisions ``--hospitals`` hospitals, each with ``--patients`` patients, a practitioner, a
receptionist and an analyst with API tokens, and a queued report. Then starts gunicorn as
``hospitium run`` does (``hospitium.wsgi``, 2 workers × 4 threads, the same settings) on this
home and runs ``--clients`` threads for ``--seconds``, each with its own HTTP connection
(``requests``), each request for a hospital drawn at random, by its domain in ``Host``:

- 40 % patient search (``GET /api/patients/?search=`` three letters of a family name),
- 35 % a patient's page (``GET /api/patients/{id}/``),
- 15 % booking an appointment (``POST /api/appointments/``, a free slot: 201 expected),
- 10 % a report's status (``GET /api/reports/generated/{id}/status/``, as the analyst).

Any answer other than the one expected (200, or 201 for a booking), and any connection error,
is an error. Prints throughput, p50/p95/p99 of the client-side latency per kind and overall,
and how busy the CPUs were before the run (others' work).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import _common

TARGET_P99_MS = 100.0
MIX = (("search", 40), ("patient", 35), ("book", 15), ("report", 10))
FAMILY_NAMES = ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas")


@dataclass
class Hospital:
    domain: str
    patients: list[str]
    practitioner: str
    report: str
    staff_token: str
    analyst_token: str


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            if error:
                self.errors[f"{kind}: {error}"] += 1


def prepare(count: int, patients: int) -> list[Hospital]:
    """Hospitals with a little data each, and their staff's API tokens."""
    from rest_framework.authtoken.models import Token

    from hospitium.accounts.models import Membership, User
    from hospitium.patients.models import Patient
    from hospitium.reports.services import report_request
    from hospitium.staff.models import Department, Practitioner
    from hospitium.tenancy.context import hospital_context
    from hospitium.tenancy.models import Hospital as HospitalRow

    codes = _common.provision(count, prefix="L")
    rng = random.Random(15)
    made = []
    for code in codes:
        row = HospitalRow.objects.get(code=code)
        staff = User.objects.create_user(f"reception@{code.lower()}.bench")
        analyst = User.objects.create_user(f"analyst@{code.lower()}.bench")
        Membership.objects.create(user=staff, hospital=row, role="receptionist")
        Membership.objects.create(user=analyst, hospital=row, role="analyst")
        with hospital_context(code):
            people = Patient.objects.bulk_create(
                Patient(
                    mrn=f"M{n:06d}",
                    given_name=f"Given{n}",
                    family_name=rng.choice(FAMILY_NAMES),
                    birth_date=dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20000)),
                )
                for n in range(patients)
            )
            department = Department.objects.create(name="General medicine")
            practitioner = Practitioner.objects.create(
                department=department, display_name="Dr. Grace Hopper"
            )
            report = report_request(
                template_key="patient_summary",
                format="csv",
                date_from="2026-01-01",
                date_to="2026-06-30",
                requested_by_id=analyst.pk,
                enqueue=False,
            )
        made.append(
            Hospital(
                domain=_common.domain_of(code),
                patients=[str(p.pk) for p in people],
                practitioner=str(practitioner.pk),
                report=str(report.pk),
                staff_token=Token.objects.create(user=staff).key,
                analyst_token=Token.objects.create(user=analyst).key,
            )
        )
    return made


def start_server(port: int, home: Path) -> subprocess.Popen[bytes]:
    """gunicorn as `hospitium run` starts it (hospitium.core.management.commands.run)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(_common.ROOT / "src"), str(_common.ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "hospitium.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
        ],
        env=env,
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn stopped: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if requests.get(f"http://127.0.0.1:{port}/health/", timeout=10).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.2)
    server.terminate()
    raise RuntimeError("gunicorn did not answer /health/ within 60 s")


def client_loop(
    base: str,
    hospitals: list[Hospital],
    stop_at: float,
    slots: itertools.count[int],
    tally: Tally,
    seed: int,
) -> None:
    import requests

    rng = random.Random(seed)
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    start = dt.datetime(2031, 1, 6, 8, 0, tzinfo=dt.UTC)
    session = requests.Session()
    while time.monotonic() < stop_at:
        hospital = rng.choice(hospitals)
        kind = rng.choice(kinds)
        token, expected, method, body = hospital.staff_token, 200, "GET", None
        if kind == "search":
            path = f"/api/patients/?search={rng.choice(FAMILY_NAMES)[:3]}"
        elif kind == "patient":
            path = f"/api/patients/{rng.choice(hospital.patients)}/"
        elif kind == "book":
            # A slot nobody else takes: each booking its own half hour.
            begins = start + dt.timedelta(minutes=30 * next(slots))
            method, path, expected = "POST", "/api/appointments/", 201
            body = {
                "patient": rng.choice(hospital.patients),
                "practitioner": hospital.practitioner,
                "starts_at": begins.isoformat(),
                "ends_at": (begins + dt.timedelta(minutes=30)).isoformat(),
                "reason": "Load benchmark",
            }
        else:
            token = hospital.analyst_token
            path = f"/api/reports/generated/{hospital.report}/status/"
        headers = {"Host": hospital.domain, "Authorization": f"Token {token}"}
        began = time.perf_counter()
        error = None
        try:
            response = session.request(method, base + path, json=body, headers=headers, timeout=30)
            response.content  # noqa: B018 (read the whole answer)
            if response.status_code != expected:
                error = f"{response.status_code} {response.text[:200]}"
        except requests.RequestException as exc:
            error = type(exc).__name__
        tally.add(kind, time.perf_counter() - began, error)


def run(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    started = time.perf_counter()
    hospitals = prepare(args.hospitals, args.patients)
    _common._close_everything()
    prepared = time.perf_counter() - started
    server = start_server(args.port, home)
    base = f"http://127.0.0.1:{args.port}"
    try:
        # Warm every worker's connection to a few hospitals; not counted.
        warm = Tally()
        client_loop(base, hospitals[:5], time.monotonic() + 2, itertools.count(10**6), warm, 0)
        busy_before = _common.cpu_busy(2.0)
        load_before = os.getloadavg()
        tally = Tally()
        slots = itertools.count()
        stop_at = time.monotonic() + args.seconds
        threads = [
            threading.Thread(
                target=client_loop, args=(base, hospitals, stop_at, slots, tally, seed + 1)
            )
            for seed in range(args.clients)
        ]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        load_after = os.getloadavg()
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    every = [s for samples in tally.latencies.values() for s in samples]
    p99 = _common.percentile(every, 0.99) * 1000
    return {
        "store": args.store,
        "hospitals": args.hospitals,
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "prepare_seconds": round(prepared, 1),
        "requests": len(every),
        "throughput_per_s": round(len(every) / elapsed, 1),
        "p50_ms": round(_common.percentile(every, 0.50) * 1000, 1),
        "p95_ms": round(_common.percentile(every, 0.95) * 1000, 1),
        "p99_ms": round(p99, 1),
        "by_kind": {
            kind: {
                "n": len(samples),
                "p50_ms": round(_common.percentile(samples, 0.50) * 1000, 1),
                "p99_ms": round(_common.percentile(samples, 0.99) * 1000, 1),
            }
            for kind, samples in sorted(tally.latencies.items())
        },
        "errors": sum(tally.errors.values()),
        "error_kinds": dict(tally.errors.most_common(5)),
        "cpu_busy_before": round(busy_before, 2),
        "loadavg_before": [round(x, 1) for x in load_before],
        "loadavg_after": [round(x, 1) for x in load_after],
        "target_p99_ms": TARGET_P99_MS,
        "ok": not tally.errors and p99 <= TARGET_P99_MS,
        "machine": _common.machine(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--hospitals", type=int, default=100)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args(argv)
    if not args.port:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            args.port = probe.getsockname()[1]
    if args.store == "postgresql":
        from bench.pg_provisioning import pg_home

        home = pg_home("load", servers=1, pg=args.pg)
    else:
        home = _common.django_home("load")
    with home as path:
        result = run(args, path)
    print(
        f"load, {result['store']}, {result['hospitals']} hospitals, {result['clients']} clients, "
        f"{result['seconds']} s: {result['requests']} requests, "
        f"{result['throughput_per_s']}/s, p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
        f"p99 {result['p99_ms']} ms, errors {result['errors']} {result['error_kinds']}; "
        f"CPUs busy before {result['cpu_busy_before']:.0%}, load average "
        f"{result['loadavg_before']} → {result['loadavg_after']}; "
        f"target p99 ≤ {TARGET_P99_MS:.0f} ms, zero errors: {_common.verdict(result['ok'])}"
    )
    for kind, figures in result["by_kind"].items():
        print(
            f"  {kind:8} n={figures['n']:6}  p50 {figures['p50_ms']} ms  p99 {figures['p99_ms']} ms"
        )
    _common.emit("load", result)
    return result


if __name__ == "__main__":
    main()
