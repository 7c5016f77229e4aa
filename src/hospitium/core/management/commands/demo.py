"""`hospitium demo`: create demo hospitals full of synthetic data, or fill an existing one.

hospitium demo --hospitals N --patients M [--years Y] [--seed S]
hospitium demo --hospital CODE --patients M [--years Y] [--seed S]
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hospitium.core.errors import HospitiumError
from hospitium.demo.generator import DemoResult, demo_fill, validate_size
from hospitium.demo.hospitals import demo_hospitals_create, hospital_admin_id
from hospitium.tenancy.models import Hospital


class Command(BaseCommand):
    help = "Create demo hospitals with synthetic data, or fill an existing hospital with it."

    def add_arguments(self, parser: CommandParser) -> None:
        # Numbers are parsed here rather than by argparse, so bad input exits 1 like every
        # other refusal of this command (argparse would exit 2).
        parser.add_argument("--hospitals", metavar="N", help="create N demo hospitals")
        parser.add_argument("--hospital", metavar="CODE", help="fill this existing hospital")
        parser.add_argument("--patients", metavar="M", help="patients per hospital")
        parser.add_argument("--years", metavar="Y", default="2", help="years of history (2)")
        parser.add_argument("--seed", metavar="S", default="1", help="random seed (1)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._handle(options)
        except HospitiumError as exc:
            raise CommandError(exc.message, returncode=1) from exc

    def _handle(self, options: dict[str, Any]) -> None:
        count, code = options["hospitals"], options["hospital"]
        if (count is None) == (code is None):
            raise CommandError("give either --hospitals N or --hospital CODE", returncode=1)
        if options["patients"] is None:
            raise CommandError("--patients M is required", returncode=1)
        patients, years, seed = validate_size(
            patients=options["patients"], years=options["years"], seed=options["seed"]
        )
        say = self._progress if sys.stderr.isatty() else None
        if code is not None:
            code = code.strip().upper()
            hospital = Hospital.objects.filter(code=code).first()
            if hospital is None:
                raise CommandError(f"there is no hospital {code}", returncode=1)
            if hospital.status != Hospital.Status.ACTIVE:
                raise CommandError(
                    f"hospital {code} is {hospital.status}, not active: it cannot be filled",
                    returncode=1,
                )
            result = demo_fill(
                hospital=hospital,
                patients=patients,
                years=years,
                seed=seed,
                user_id=hospital_admin_id(code),
                progress=say,
            )
            self._report(result)
            return
        try:
            hospitals = int(str(count).strip())
        except ValueError:
            raise CommandError(
                f"--hospitals must be a whole number, not {count!r}", returncode=1
            ) from None
        if hospitals < 1:
            raise CommandError(f"--hospitals must be at least 1; got {hospitals}", returncode=1)
        made = demo_hospitals_create(
            hospitals=hospitals, patients=patients, years=years, seed=seed, progress=say
        )
        for demo in made:
            self._report(demo.result)
        self.stdout.write("\nDemo hospitals and their admins (passwords are shown only now):")
        for demo in made:
            password = demo.admin_password or "(existing account: password unchanged)"
            self.stdout.write(
                f"  {demo.code}  http://{demo.host}:8000/  {demo.admin_email} / {password}"
            )

    def _report(self, result: DemoResult) -> None:
        self.stdout.write(
            f"{result.hospital}: {result.rows} rows in {result.seconds:.1f} s "
            f"({result.rows_per_second:,.0f} rows/s)"
        )
        for label, rows in result.counts.items():
            self.stdout.write(f"  {label:<28} {rows:>10,}")

    def _progress(self, message: str) -> None:
        self.stderr.write(f"  … {message}")
