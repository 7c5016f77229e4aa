"""Settings for a `hospitium` command that a test runs as a real subprocess (tests/subprocs.py):
the test run's settings, in the starting test's HOSPITIUM_HOME (``HOSPITIUM_TEST_WORKER_HOME``,
read by tests.settings), on the same stores as the test (on PostgreSQL: the test's platform
database, ``HOSPITIUM_TEST_WORKER_PLATFORM_DB``; on SQLite: the platform file the test copied
into that home), with the test-only pause points switched on (hospitium.core.processes). Never
used outside tests.
"""

import json
import os

from tests.settings import *  # noqa: F403
from tests.settings import TEST_STORE

if not os.environ.get("HOSPITIUM_TEST_WORKER_HOME"):
    raise RuntimeError("tests.subprocess_settings is for commands started by a test")

if TEST_STORE == "postgresql":
    DATABASES["default"]["NAME"] = os.environ["HOSPITIUM_TEST_WORKER_PLATFORM_DB"]  # noqa: F405

#: The template folder the test session shares (building one costs half a second).
HOSPITIUM_TEMPLATE_DIR = os.environ.get("HOSPITIUM_TEST_TEMPLATE_DIR") or None
#: A test may "deploy" other migration modules (tests/tenancy/test_fleet_kill.py).
MIGRATION_MODULES = json.loads(os.environ.get("HOSPITIUM_TEST_MIGRATION_MODULES", "{}"))
HOSPITIUM_TEST_HOOKS = True
