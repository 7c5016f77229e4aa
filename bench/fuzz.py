"""Schemathesis over the whole API, longer than the suite's bounded run (run by hand).

    .venv/bin/python -m bench.fuzz [--examples 25] [--seed 15] [--patients 40] [--show 20]

A fresh HOSPITIUM_HOME (the embedded default: SQLite stores) with one hospital, its admin and
a year of demo care for ``--patients`` patients, served on a local port in this process; then
every phase and every check of schemathesis (tests/apifuzz.py, as the suite's
tests/test_api_fuzz.py uses it) with ``--examples`` examples an operation, as that admin.
Prints the cases, the operations and each distinct failure; exits 1 if there is any.
docs/reliability.md records the runs.
"""

from __future__ import annotations

import argparse
import secrets
import sys

from bench import _common

CODE = "FUZZ"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=25, help="examples an operation")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--patients", type=int, default=40, help="demo patients in the hospital")
    parser.add_argument("--show", type=int, default=20, help="distinct failures printed")
    args = parser.parse_args(argv)

    with _common.django_home("fuzz"):
        from django.core.wsgi import get_wsgi_application
        from rest_framework.authtoken.models import Token
        from rest_framework.throttling import SimpleRateThrottle
        from tests.apifuzz import fuzz, serving

        from hospitium.accounts.models import Membership, Role, User
        from hospitium.demo.generator import demo_fill
        from hospitium.tenancy.provisioning import hospital_create

        hospital = hospital_create(
            code=CODE, name="Fuzz General", domains=[_common.domain_of(CODE)]
        ).hospital
        admin = User.objects.create_user("admin@fuzz.example.test", secrets.token_urlsafe(16))
        Membership.objects.create(user=admin, hospital=hospital, role=Role.ADMIN)
        demo_fill(hospital=hospital, patients=args.patients, years=1, seed=args.seed)
        token = Token.objects.create(user=admin)
        # Thousands of requests a minute from one user: the throttle would answer most of them.
        SimpleRateThrottle.allow_request = lambda self, request, view: True  # type: ignore[method-assign]
        with serving(get_wsgi_application()) as url:
            report = fuzz(
                url, token=token.key, hospital=CODE, examples=args.examples, seed=args.seed
            )

    print(report.summary())
    for problem in report.problems[: args.show]:
        print(f"\n{problem}")
    _common.emit(
        "fuzz",
        {
            "examples": args.examples,
            "seed": args.seed,
            "patients": args.patients,
            "cases": report.cases,
            "operations": len(report.operations),
            "failed_checks": len(report.failures),
            "distinct_failures": len(report.problems) - len(report.errors),
            "errors": len(report.errors),
            "seconds": round(report.seconds),
        },
    )
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
