"""`hospitium hospitals create|list|archive|repair|backup|restore|delete|move|spares`, and
`hospitium hospitals break-glass` (a superuser's time-limited access to one hospital)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hospitium.accounts.models import BreakGlassAccess, User, normalize_email
from hospitium.audit.services import (
    BREAK_GLASS_DEFAULT_MINUTES,
    BREAK_GLASS_MAX_MINUTES,
    break_glass_open,
)
from hospitium.core.errors import HospitiumError
from hospitium.tenancy.backups import hospital_backup, hospital_delete, hospital_restore
from hospitium.tenancy.migration import hospital_fingerprint
from hospitium.tenancy.moves import hospital_move
from hospitium.tenancy.provisioning import hospital_archive, hospital_create, hospital_repair
from hospitium.tenancy.selectors import hospital_get, hospital_list, provisioning_stalled
from hospitium.tenancy.spares import spares_list, spares_refill


class Command(BaseCommand):
    help = (
        "Create, list, archive, repair, back up, restore, delete and move hospitals; show or "
        "refill the pool of spare schemas (PostgreSQL)."
    )

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
        create.add_argument(
            "--currency",
            help="ISO 4217 code it invoices in (default: HOSPITIUM_DEFAULT_CURRENCY)",
        )
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
        repair.add_argument(
            "--admin-password-file",
            type=Path,
            help="the password of the admin repair creates (default: one generated and shown once)",
        )
        backup = sub.add_parser("backup", help="back up a hospital's store (online)")
        backup.add_argument("code")
        backup.add_argument("--to", required=True, type=Path, dest="target", metavar="FILE")
        restore = sub.add_parser("restore", help="replace a hospital's data with a backup of it")
        restore.add_argument("code")
        restore.add_argument("--from", required=True, type=Path, dest="source", metavar="FILE")
        delete = sub.add_parser("delete", help="delete an archived, backed-up hospital")
        delete.add_argument("code")
        move = sub.add_parser("move", help="move a hospital to another PostgreSQL server")
        move.add_argument("code")
        move.add_argument("--to", required=True, dest="server", metavar="SERVER")
        spares = sub.add_parser(
            "spares", help="show each PostgreSQL server's pool of spare schemas"
        )
        spares.add_argument(
            "--fill",
            action="store_true",
            help="first top each pool up to HOSPITIUM_PG_SPARE_SCHEMAS, dropping stale spares",
        )
        spares.add_argument("--server", help="only this server")
        spares.add_argument("--json", action="store_true")
        glass = sub.add_parser(
            "break-glass",
            help="give a platform superuser time-limited access to one hospital's data "
            "(written to that hospital's audit log)",
        )
        glass.add_argument("code")
        glass.add_argument("--user", required=True, metavar="EMAIL", help="a platform superuser")
        glass.add_argument("--reason", required=True, help="why; the hospital's admins read it")
        glass.add_argument(
            "--minutes",
            type=int,
            default=BREAK_GLASS_DEFAULT_MINUTES,
            help=f"how long (default {BREAK_GLASS_DEFAULT_MINUTES}, "
            f"at most {BREAK_GLASS_MAX_MINUTES})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"do_{options['action'].replace('-', '_')}")(options)
        except HospitiumError as exc:
            raise CommandError(exc.message, returncode=1) from exc

    @staticmethod
    def _password_from(password_file: Path | None) -> str | None:
        if password_file is None:
            return None
        try:
            password = password_file.read_text().splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            raise CommandError(
                f"cannot read a password from {password_file}", returncode=1
            ) from exc
        if not password:
            raise CommandError(f"{password_file} holds an empty password", returncode=1)
        return password

    def do_create(self, options: dict[str, Any]) -> None:
        if options["admin_password_file"] is not None and options["admin_email"] is None:
            raise CommandError("--admin-password-file needs --admin-email", returncode=1)
        password = self._password_from(options["admin_password_file"])
        result = hospital_create(
            code=options["code"],
            name=options["name"],
            domains=options["domains"],
            admin_email=options["admin_email"],
            admin_password=password,
            currency=options["currency"],
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
                # Why a provisioning hospital needs `repair` (null when it needs nothing).
                "needs_repair": provisioning_stalled(h),
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
        for row in rows:
            if row["needs_repair"]:
                self.stdout.write(
                    f"{row['code']}: provisioning did not finish ({row['needs_repair']}); "
                    f"`hospitium hospitals repair {row['code']}` finishes it, --clean removes it"
                )

    def do_archive(self, options: dict[str, Any]) -> None:
        hospital = hospital_archive(code=options["code"])
        self.stdout.write(f"archived hospital {hospital.code}: it is now read-only")

    def do_repair(self, options: dict[str, Any]) -> None:
        result = hospital_repair(
            code=options["code"],
            clean=options["clean"],
            force=options["force"],
            admin_password=self._password_from(options["admin_password_file"]),
        )
        self.stdout.write(f"hospital {result.code}: {result.action}")
        for detail in result.details:
            self.stdout.write(f"  {detail}")
        if result.admin is not None:
            note = "new user" if result.admin_created else "existing user, password unchanged"
            self.stdout.write(f"admin: {result.admin.email} ({note})")
        if result.generated_password:
            self.stdout.write(f"admin password: {result.generated_password}")

    def do_backup(self, options: dict[str, Any]) -> None:
        backup = hospital_backup(code=options["code"], target=options["target"])
        self.stdout.write(
            f"backed up hospital {backup.code} to {backup.path} ({backup.size} bytes, "
            f"sha256 {backup.sha256[:16]}…)"
        )

    def do_restore(self, options: dict[str, Any]) -> None:
        result = hospital_restore(code=options["code"], source=options["source"])
        self.stdout.write(f"restored hospital {result.code} from {options['source']}")
        if result.migrated:
            self.stdout.write(f"  then applied {len(result.migrated)} newer migrations")

    def do_delete(self, options: dict[str, Any]) -> None:
        kept = hospital_delete(code=options["code"])
        self.stdout.write(f"deleted hospital {kept.code}; its backup is kept at {kept.path}")

    def do_move(self, options: dict[str, Any]) -> None:
        result = hospital_move(code=options["code"], to_server=options["server"])
        self.stdout.write(
            f"moved hospital {result.code} from {result.source} to {result.target} "
            f"({result.rows} rows verified)"
        )

    def do_spares(self, options: dict[str, Any]) -> None:
        refills = (
            {r.server: r for r in spares_refill(server=options["server"])}
            if options["fill"]
            else {}
        )
        pools = spares_list(server=options["server"])
        if options["json"]:
            rows = [
                {
                    "server": pool.server,
                    "target": pool.target,
                    "ready": pool.ready,
                    "stale": pool.stale,
                    **(
                        {
                            "built": refills[pool.server].built,
                            "dropped": refills[pool.server].dropped,
                        }
                        if pool.server in refills
                        else {}
                    ),
                }
                for pool in pools
            ]
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not pools:
            self.stdout.write(
                "no spare schemas: hospitals are SQLite files here, and copying the template "
                "needs no pool"
            )
            return
        self.stdout.write(f"{'SERVER':<16} {'TARGET':>6} {'READY':>5} {'STALE':>5}")
        for pool in pools:
            line = f"{pool.server:<16} {pool.target:>6} {len(pool.ready):>5} {len(pool.stale):>5}"
            refill = refills.get(pool.server)
            if refill is not None:
                line += (
                    f"  (built {len(refill.built)}, dropped {len(refill.dropped)} "
                    f"in {refill.seconds:.2f}s)"
                )
            self.stdout.write(line)

    def do_break_glass(self, options: dict[str, Any]) -> None:
        email = normalize_email(options["user"])
        user = User.objects.filter(email=email).first()
        if user is None:
            raise CommandError(f"there is no user {email}", returncode=1)
        access = break_glass_open(
            user=user,
            hospital=hospital_get(options["code"]),
            reason=options["reason"],
            minutes=options["minutes"],
            via=BreakGlassAccess.Via.CLI,
        )
        self.stdout.write(
            f"break-glass access {access.pk}: {user.email} may act in {access.hospital.code} "
            f"until {access.expires_at:%Y-%m-%d %H:%M:%S %Z}; recorded in its audit log"
        )
