"""`hospitium hospitals create|list|archive|repair`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hospitium.core.errors import HospitiumError
from hospitium.tenancy.migration import hospital_fingerprint
from hospitium.tenancy.provisioning import hospital_archive, hospital_create, hospital_repair
from hospitium.tenancy.selectors import hospital_list


class Command(BaseCommand):
    help = "Create, list, archive and repair hospitals."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = sub.add_parser("create", help="provision a new hospital")
        create.add_argument("code", help="2–32 characters of A–Z, 0–9 and _")
        create.add_argument("--name", required=True)
        create.add_argument(
            "--domain",
            action="append",
            required=True,
            dest="domains",
            help="host name (repeatable; the first is primary)",
        )
        create.add_argument("--admin-email")
        create.add_argument("--admin-password-file", type=Path)
        listing = sub.add_parser("list", help="show every hospital's status and migration state")
        listing.add_argument("--json", action="store_true")
        archive = sub.add_parser("archive", help="make a hospital read-only")
        archive.add_argument("code")
        repair = sub.add_parser("repair", help="finish or clean up a failed provisioning")
        repair.add_argument("code")
        repair.add_argument(
            "--clean", action="store_true", help="remove it instead of finishing it"
        )
        repair.add_argument(
            "--force", action="store_true", help="even if provisioning started moments ago"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"do_{options['action']}")(options)
        except HospitiumError as exc:
            raise CommandError(exc.message, returncode=1) from exc

    def do_create(self, options: dict[str, Any]) -> None:
        password: str | None = None
        password_file: Path | None = options["admin_password_file"]
        if password_file is not None:
            if options["admin_email"] is None:
                raise CommandError("--admin-password-file needs --admin-email", returncode=1)
            try:
                password = password_file.read_text().splitlines()[0].strip()
            except (OSError, IndexError) as exc:
                raise CommandError(
                    f"cannot read a password from {password_file}", returncode=1
                ) from exc
            if not password:
                raise CommandError(f"{password_file} holds an empty password", returncode=1)
        result = hospital_create(
            code=options["code"],
            name=options["name"],
            domains=options["domains"],
            admin_email=options["admin_email"],
            admin_password=password,
        )
        hospital = result.hospital
        self.stdout.write(f"created hospital {hospital.code} ({hospital.name})")
        for domain in hospital.domains.all():
            self.stdout.write(f"  domain: {domain.host}{' (primary)' if domain.is_primary else ''}")
        if result.admin is not None:
            note = "new user" if result.admin_created else "existing user, password unchanged"
            self.stdout.write(f"admin: {result.admin.email} ({note})")
        if result.generated_password:
            self.stdout.write(f"admin password: {result.generated_password}")

    def do_list(self, options: dict[str, Any]) -> None:
        current = hospital_fingerprint()
        rows: list[dict[str, Any]] = [
            {
                "code": h.code,
                "name": h.name,
                "status": h.status,
                "status_reason": h.status_reason,
                "domains": [d.host for d in h.domains.all()],
                "placement": {"server": h.server or "embedded", "store": h.store_name},
                "migration_state": "current"
                if h.migration_fingerprint == current
                else ("unknown" if not h.migration_fingerprint else "behind"),
                "created_at": h.created_at.isoformat(),
            }
            for h in hospital_list()
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("no hospitals")
            return
        header = f"{'CODE':<16} {'STATUS':<13} {'MIGRATIONS':<10} {'DOMAIN':<32} NAME"
        self.stdout.write(header)
        for row in rows:
            domains: list[str] = row["domains"]
            self.stdout.write(
                f"{row['code']:<16} {row['status']:<13} {row['migration_state']:<10} "
                f"{domains[0] if domains else '-':<32} {row['name']}"
            )

    def do_archive(self, options: dict[str, Any]) -> None:
        hospital = hospital_archive(code=options["code"])
        self.stdout.write(f"archived hospital {hospital.code}: it is now read-only")

    def do_repair(self, options: dict[str, Any]) -> None:
        result = hospital_repair(
            code=options["code"], clean=options["clean"], force=options["force"]
        )
        self.stdout.write(f"hospital {result.code}: {result.action}")
        for detail in result.details:
            self.stdout.write(f"  {detail}")
