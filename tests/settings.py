"""Settings for the test run: Hospitium's own, with a scratch HOSPITIUM_HOME and tasks run
immediately. The environment is set here because settings read it at import, which pytest-django
does before any conftest is loaded.

``HOSPITIUM_TEST_STORE=postgresql`` runs the same suite on PostgreSQL: the platform store in the
test database Django creates, hospitals as schemas on two databases that stand in for two
servers (``HOSPITIUM_TEST_POSTGRES`` names the server; default: the local one).
"""

import os
import tempfile

# A worker process started by a test (tests/worker_settings.py) works in that test's home.
os.environ["HOSPITIUM_HOME"] = os.environ.get("HOSPITIUM_TEST_WORKER_HOME") or tempfile.mkdtemp(
    prefix="hospitium-tests-"
)
os.environ["HOSPITIUM_TASKS_IMMEDIATE"] = "1"
for _name in ("HOSPITIUM_DATABASE_URL", "HOSPITIUM_HOSPITAL_SERVERS", "HOSPITIUM_REDIS_URL"):
    os.environ.pop(_name, None)

TEST_STORE = os.environ.get("HOSPITIUM_TEST_STORE", "sqlite")
if TEST_STORE not in {"sqlite", "postgresql"}:
    raise RuntimeError(f"HOSPITIUM_TEST_STORE must be sqlite or postgresql, not {TEST_STORE!r}")
POSTGRES = os.environ.get("HOSPITIUM_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
# Two runs on one server at once need their own databases: HOSPITIUM_TEST_DB_SUFFIX=_alice.
_SUFFIX = os.environ.get("HOSPITIUM_TEST_DB_SUFFIX", "")
if not _SUFFIX.replace("_", "").isalnum() and _SUFFIX:
    raise RuntimeError("HOSPITIUM_TEST_DB_SUFFIX may hold only letters, digits and _")
TEST_SERVER_DATABASES = {"s1": f"hospitium_tests{_SUFFIX}_s1", "s2": f"hospitium_tests{_SUFFIX}_s2"}
if TEST_STORE == "postgresql":
    os.environ["HOSPITIUM_DATABASE_URL"] = f"{POSTGRES}/hospitium_tests{_SUFFIX}"
    os.environ["HOSPITIUM_HOSPITAL_SERVERS"] = ",".join(
        f"{name}={POSTGRES}/{database}" for name, database in TEST_SERVER_DATABASES.items()
    )

from hospitium.settings import *  # noqa: E402, F403

# Hashing passwords slowly is a production virtue and a test-suite vice.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
