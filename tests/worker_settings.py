"""Settings for a real Huey consumer that a test starts as a subprocess (tests/reports/
test_worker_kill.py): the test run's settings, in the starting test's HOSPITIUM_HOME
(``HOSPITIUM_TEST_WORKER_HOME``, set before tests.settings is read), consuming that home's
SQLite queue, on the same stores as the test (on PostgreSQL: the test's platform database,
``HOSPITIUM_TEST_WORKER_PLATFORM_DB``; hospital servers come from the inherited environment),
with the test-only blocking template installed. Never used outside tests.
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import HUEY, INSTALLED_APPS, TEST_STORE

if not os.environ.get("HOSPITIUM_TEST_WORKER_HOME"):
    raise RuntimeError("tests.worker_settings is for workers started by a test")

if TEST_STORE == "postgresql":
    DATABASES["default"]["NAME"] = os.environ["HOSPITIUM_TEST_WORKER_PLATFORM_DB"]  # noqa: F405

HUEY = {
    **HUEY,
    "immediate": False,
    "consumer": {
        "workers": 1,
        "worker_type": "thread",
        "periodic": False,  # the test runs the sweeper itself, when it wants to
        "initial_delay": 0.1,
        "max_delay": 0.5,
    },
}
INSTALLED_APPS = [*INSTALLED_APPS, "tests.reports.blocking.BlockingReportsConfig"]
#: Where the blocking template leaves its marks and waits for "release".
HOSPITIUM_TEST_BLOCK_DIR = os.environ["HOSPITIUM_TEST_BLOCK_DIR"]
