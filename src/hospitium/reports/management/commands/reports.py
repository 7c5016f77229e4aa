"""`hospitium reports generate --hospital CODE --template ID --format pdf|xlsx|csv|json
--from DATE --to DATE [--include-rows] [--out FILE]`.

Runs synchronously in this process (no worker needed), through the same services as the API:
the report is recorded, generated, stored and, with --out, copied to a file. ``--hospital ALL``
runs the template over the whole fleet (figures only) and needs --out. A terminal shows a
progress bar.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from hospitium.accounts.models import Role
from hospitium.core.errors import HospitiumError
from hospitium.reports import files, registry
from hospitium.reports.errors import ReportTransientError
from hospitium.reports.generation import MAX_ATTEMPTS, report_generate
from hospitium.reports.services import report_request
from hospitium.tenancy.context import hospital_context

FORMATS = ["pdf", "xlsx", "csv", "json"]


class Command(BaseCommand):
    help = "Generate reports from the command line."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        generate = sub.add_parser("generate", help="generate one report now (synchronously)")
        generate.add_argument("--hospital", required=True, metavar="CODE", help="or ALL")
        generate.add_argument("--template", required=True, metavar="ID")
        generate.add_argument("--format", required=True, metavar="|".join(FORMATS))
        generate.add_argument("--from", required=True, dest="date_from", metavar="DATE")
        generate.add_argument("--to", required=True, dest="date_to", metavar="DATE")
        generate.add_argument("--include-rows", action="store_true")
        generate.add_argument("--out", type=Path, metavar="FILE", help="also write the file here")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self.do_generate(options)
        except HospitiumError as exc:
            detail = "".join(
                f"\n  {name}: {' '.join(messages)}" for name, messages in exc.fields.items()
            )
            raise CommandError(exc.message + detail, returncode=1) from exc

    def do_generate(self, options: dict[str, Any]) -> None:
        if options["format"] not in FORMATS:
            raise CommandError(
                f"--format must be one of {', '.join(FORMATS)}; got {options['format']!r}",
                returncode=1,
            )
        code = options["hospital"].strip().upper()
        if code == "ALL":
            self.generate_fleet(options)
            return
        from hospitium.tenancy.models import Hospital

        if not Hospital.objects.filter(code=code).exists():
            raise CommandError(f"there is no hospital {code}", returncode=1)
        with hospital_context(code):
            report = report_request(
                template_key=options["template"],
                format=options["format"],
                date_from=options["date_from"],
                date_to=options["date_to"],
                include_rows=options["include_rows"],
                requested_by_label="cli",
                enqueue=False,
                # Whoever runs the command line on the server holds every hospital's store:
                # they act as the hospital's admin, rows included.
                roles={Role.ADMIN.value},
            )
            bar = tqdm(total=100, unit="%", desc=report.template_key) if self.tty() else None

            def show(percent: int) -> None:
                if bar is not None:
                    bar.update(max(0, percent - bar.n))

            try:
                done = None
                for _ in range(MAX_ATTEMPTS):
                    try:
                        done = report_generate(report_id=report.pk, progress=show)
                        break
                    except ReportTransientError:
                        continue
            finally:
                if bar is not None:
                    bar.close()
            if done is None or done.status != "completed":
                message = done.error_message if done is not None else "it was not generated"
                raise CommandError(f"report {report.pk} failed: {message}", returncode=1)
            if options["out"] is not None:
                self.copy_out(done.storage_key, options["out"])
        self.stdout.write(
            f"report {done.pk}: {done.status}, {done.size:,} bytes, "
            f"{done.row_count:,} rows, {done.duration_ms} ms, stored as {done.storage_key}"
            + (f", written to {options['out']}" if options["out"] else "")
        )

    def copy_out(self, key: str, out: Path) -> None:
        try:
            with files.reports_storage().open(key, "rb") as source, out.open("wb") as target:
                shutil.copyfileobj(source, target, files.CHUNK)
        except OSError as exc:
            raise CommandError(f"cannot write {out}: {exc.strerror or exc}", returncode=1) from exc

    def generate_fleet(self, options: dict[str, Any]) -> None:
        from hospitium.reports.fleet import fleet_report_data

        out: Path | None = options["out"]
        if out is None:
            raise CommandError("--hospital ALL needs --out FILE", returncode=1)
        fmt = registry.formats().get(options["format"])
        if fmt is None:
            raise CommandError(f"the {options['format']} format is not available", returncode=1)
        data = fleet_report_data(
            user=None,
            template_key=options["template"],
            date_from=options["date_from"],
            date_to=options["date_to"],
        )
        try:
            with out.open("wb") as target:
                fmt.write(data, target)
        except OSError as exc:
            raise CommandError(f"cannot write {out}: {exc.strerror or exc}", returncode=1) from exc
        self.stdout.write(f"fleet report of {data.meta.hospital_name} written to {out}")

    def tty(self) -> bool:
        return sys.stderr.isatty()
