"""`hospitium migrate`: the platform store first, then every hospital that is behind."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hospitium.tenancy.migration import fleet_migrate


class Command(BaseCommand):
    help = "Migrate the platform store, then every hospital store that is behind, in parallel."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--processes", type=int, default=None, help="parallel processes (default: CPUs)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        processes = options["processes"]
        if processes is not None and processes < 1:
            raise CommandError("--processes must be at least 1")
        result = fleet_migrate(
            processes=processes,
            progress=not options["no_progress"] and sys.stderr.isatty(),
        )
        migrated = [r for r in result.results if r.ok]
        self.stdout.write(
            f"platform migrated; {result.checked} hospitals checked, {result.behind} behind, "
            f"{len(migrated)} migrated, {len(result.failures)} failed ({result.seconds:.2f}s)"
        )
        for pool in result.spares:
            if pool.built or pool.dropped:
                self.stdout.write(
                    f"spare schemas on {pool.server}: {len(pool.ready)} ready "
                    f"(built {len(pool.built)}, dropped {len(pool.dropped)})"
                )
        if result.spares_error:
            self.stderr.write(f"WARNING spare schemas not refilled: {result.spares_error}")
        for failure in result.failures:
            self.stderr.write(f"FAILED {failure.code}: {failure.error}")
        if not result.ok:
            raise CommandError(
                f"{len(result.failures)} hospital(s) failed to migrate", returncode=1
            )
