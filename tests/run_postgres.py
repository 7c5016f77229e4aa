"""Run the whole test suite again on PostgreSQL (``make test`` calls this after the SQLite run).

With no server reachable the run is reported as NOT RUN; with HOSPITIUM_REQUIRE_POSTGRES=1 (as
.ci/run sets it) that is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg

DEFAULT = "postgresql://postgres@127.0.0.1:5432"


def main() -> int:
    server = os.environ.get("HOSPITIUM_TEST_POSTGRES", DEFAULT)
    required = os.environ.get("HOSPITIUM_REQUIRE_POSTGRES") == "1"
    try:
        with psycopg.connect(f"{server}/postgres", connect_timeout=5) as connection:
            version = connection.execute("show server_version").fetchone()
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL run: NOT RUN — no server reachable at {server} ({exc})".strip())
        if required:
            print("HOSPITIUM_REQUIRE_POSTGRES=1: a missing PostgreSQL run is a failure.")
            return 1
        return 0
    print(f"PostgreSQL run: server {version[0] if version else '?'} at {server}", flush=True)
    env = {**os.environ, "HOSPITIUM_TEST_STORE": "postgresql", "HOSPITIUM_TEST_POSTGRES": server}
    return subprocess.call([sys.executable, "-m", "pytest", "-q", *sys.argv[1:]], env=env)


if __name__ == "__main__":
    sys.exit(main())
