"""What auditing every read costs a patient-detail request (target: ≤ 10 %).

    .venv/bin/python -m bench.audit [--patients 2000] [--rounds 6] [--requests 1500]

Same process, same hospital, same signed-in doctor, same URLs: rounds alternate between the real
``audit_record`` and a no-op, and the medians of the rounds are compared. In-process requests
through Django's test client (the full middleware and DRF stack, no network).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=1500)
    args = parser.parse_args()

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
    real = resources.audit_record

    def noop(**kwargs: object) -> None:
        return None

    def one_round() -> float:
        started = time.perf_counter()
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, response.content
        return time.perf_counter() - started

    one_round()  # warm up both paths' caches
    timings: dict[str, list[float]] = {"audited": [], "not audited": []}
    for index in range(args.rounds * 2):
        audited = index % 2 == 0
        resources.audit_record = real if audited else noop  # type: ignore[assignment]
        timings["audited" if audited else "not audited"].append(one_round())
    resources.audit_record = real
    with hospital_context(hospital):
        events = AuditEvent.objects.filter(action="read").count()
    on = statistics.median(timings["audited"])
    off = statistics.median(timings["not audited"])
    print(f"patient-detail requests: {args.requests} per round, {args.rounds} rounds each way")
    for label, seconds in (("not audited", off), ("audited", on)):
        each = seconds / args.requests * 1e6
        print(f"  {label:<12} {args.requests / seconds:8.0f} req/s   ({each:6.0f} µs each)")
    overhead = (on / off - 1) * 100
    print(f"  overhead:    {overhead:6.1f} %   (target ≤ 10 %); read events written: {events}")


if __name__ == "__main__":
    main()
