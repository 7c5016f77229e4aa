"""Process limits a web or worker process adjusts at start."""

from __future__ import annotations

import logging
import resource

logger = logging.getLogger(__name__)


def raise_open_file_limit(wanted: int = 65536) -> int:
    """Raise the soft limit on open files towards ``wanted`` (never above the hard limit).

    Each open SQLite hospital store holds up to three files (database, WAL, shared memory), and
    every thread keeps up to HOSPITIUM_MAX_OPEN_STORES of them; the usual soft limit of 1024
    would be reached by a few threads. Returns the limit in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
        except (ValueError, OSError) as exc:
            logger.warning("could not raise the open-file limit to %d: %s", target, exc)
    return soft
