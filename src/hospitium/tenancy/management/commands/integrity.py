"""`hospitium integrity check [--hospital CODE] [--json]`: exit 1 when anything is found."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hospitium.core.errors import HospitiumError
from hospitium.tenancy.integrity import integrity_check


class Command(BaseCommand):
    help = "Find orphaned cross-store references and foreign-key violations in every store."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        check = sub.add_parser("check", help="scan the stores")
        check.add_argument("--hospital", help="scan only this hospital")
        check.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            findings = integrity_check(code=options["hospital"])
        except HospitiumError as exc:
            raise CommandError(exc.message, returncode=1) from exc
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {"ok": not findings, "findings": [f.as_dict() for f in findings]}, indent=2
                )
            )
        elif not findings:
            self.stdout.write("integrity check: no problems found")
        else:
            for f in findings:
                self.stdout.write(
                    f"{f.store}: {f.kind} in {f.table or '-'} row {f.row or '-'}: {f.detail}"
                )
        if findings:
            raise CommandError(f"integrity check: {len(findings)} problem(s) found", returncode=1)
