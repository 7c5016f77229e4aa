"""The `hospitium` command: Django's management commands, with `migrate` meaning the whole fleet.

`hospitium migrate` migrates the platform store and then every hospital that is behind;
Django's own `migrate` (platform store only) stays available as `hospitium django-migrate`.
"""

from __future__ import annotations

import os
import sys

ALIASES = {"migrate": "migrate_fleet", "django-migrate": "migrate"}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hospitium.settings")
    from django.core.management import execute_from_command_line

    from hospitium.core.limits import raise_open_file_limit

    raise_open_file_limit()

    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ALIASES:
        args[0] = ALIASES[args[0]]
    execute_from_command_line(["hospitium", *args])
    return 0
